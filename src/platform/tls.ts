/**
 * TLS client socket over `embedded:io/socket/tcp/tls` (ECMA-419 TLS socket;
 * Moddable's examples/io/tcp/tlssocket over modules/crypt/ssl). Same contract
 * as tcp.ts (first onWritable = connected and handshaken); a failed handshake
 * or certificate check ends with the "tls" code.
 *
 * What Moddable's TLSSocket needs, read from its source:
 * - `TCP: { io: TCP }`: the socket class it runs the TLS records over (it
 *   calls `new options.TCP.io(...)`); without it every connect failed with
 *   "cannot coerce undefined to object" before any byte was sent.
 * - `host`: the server name, sent as SNI and checked against the server
 *   certificate's subjectAltName (dNSName, or iPAddress for IPv4).
 * - `secure: { certificate, clientCertificates, clientKey, verify }` handed
 *   to ssl/session: `certificate` is ONE trusted CA as a DER ArrayBuffer
 *   (x509.decode reads DER only: PEM failed with "x509: malformed input"),
 *   `clientCertificates` a list of DER certificates and `clientKey` a DER
 *   PKCS #8 key for mutual TLS, `verify: false` skips the server check.
 *   Certificates and keys are therefore decoded here from PEM or DER
 *   (src/util/pem.ts), the same on every engine.
 * - Without `certificate`, Moddable checks the chain against the CA store
 *   built into the firmware (modules/crypt/data/ca*, resources).
 * - Moddable's check walks the chain the server sends and needs the issuer
 *   of the server certificate in it: a broker must send its chain (server
 *   certificate then CA, e.g. mosquitto `certfile` holding both); with the
 *   server certificate alone, the name is never compared and the check fails.
 * - Handshake faults throw inside the TLS socket's TCP callbacks, where no
 *   one catches them: the TCP class handed to it here catches them and ends
 *   the connection with "tls: <message>".
 */
import TCP from "embedded:io/socket/tcp";
import TLSSocket from "embedded:io/socket/tcp/tls";
import { MoteError } from "../errors.js";
import { derOf } from "../util/pem.js";
import { checkPort, HostStream, isIpAddress, messageOf, type HostSocket, type StreamHandlers, type StreamSocket } from "./tcp.js";

/** RFC 7468 §5.1: "CERTIFICATE"; §5.3 lets parsers accept the older labels too. */
const CERTIFICATE_LABELS: readonly string[] = Object.freeze(["CERTIFICATE", "X509 CERTIFICATE", "X.509 CERTIFICATE"]);
/** RFC 7468 §10: PKCS #8 PrivateKeyInfo (what Moddable's pkcs8 module parses). */
const KEY_LABELS: readonly string[] = Object.freeze(["PRIVATE KEY"]);

export interface TlsCredentials {
  /** The trusted CA (one certificate), DER. */
  readonly ca?: Uint8Array;
  /** Client certificate, DER. */
  readonly cert?: Uint8Array;
  /** Client key, PKCS #8 DER. */
  readonly key?: Uint8Array;
}

/**
 * The DER form of a CA, client certificate and key given as PEM or DER bytes.
 * Throws PemError (code pem-* / der-malformed) for bytes that are neither,
 * MoteError("invalid-argument") when only one of cert and key is given.
 */
export function tlsCredentials(options: { ca?: Uint8Array; cert?: Uint8Array; key?: Uint8Array }): TlsCredentials {
  if ((options.cert === undefined) !== (options.key === undefined)) throw new MoteError("invalid-argument", "cert and key go together");
  const out: { ca?: Uint8Array; cert?: Uint8Array; key?: Uint8Array } = {};
  if (options.ca !== undefined) out.ca = derOf(options.ca, CERTIFICATE_LABELS, "the CA certificate");
  if (options.cert !== undefined) out.cert = derOf(options.cert, CERTIFICATE_LABELS, "the client certificate");
  if (options.key !== undefined) out.key = derOf(options.key, KEY_LABELS, "the client key");
  return out;
}

/** An ArrayBuffer holding exactly `bytes` (the view's own buffer when it spans all of it). */
function bufferOf(bytes: Uint8Array): ArrayBuffer {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return (whole ? bytes.buffer : bytes.slice().buffer) as ArrayBuffer;
}

type Callback = (...args: unknown[]) => void;

/**
 * What TLSSocket is given as its `TCP` option, one per connection. Moddable's
 * TLSSocket calls its own onError with no argument, so the cause of a failed
 * handshake travels here instead, from GuardedTCP to connectTls.
 */
interface TcpOption {
  readonly io: typeof GuardedTCP;
  failure?: string;
}

/**
 * The TCP class handed to Moddable's TLSSocket: plain TCP whose callbacks
 * catch what the TLS layer throws in them (a certificate that does not
 * verify, an alert, a malformed record), note it in the connection's
 * TcpOption and end the connection with one onError. TLSSocket passes that
 * on; HostStream then closes the TLS socket and with it this one. Nothing
 * runs after the first failure.
 */
class GuardedTCP extends TCP {
  constructor(options: Record<string, unknown>) {
    const onReadable = options.onReadable as Callback;
    const onWritable = options.onWritable as Callback;
    const onError = options.onError as Callback;
    // TLSSocket spreads its own options into ours: its TCP option is here too.
    const note = options.TCP as TcpOption;
    let failed = false;
    // try/catch written out in each callback, not through a helper taking a closure,
    // and TLSSocket's callbacks (arrow functions) called directly, not through call():
    // the TLS handshake runs under these frames, and each one costs XS stack.
    const fail = (error: unknown): void => {
      failed = true;
      note.failure = `tls: ${messageOf(error) ?? "handshake failed"}`;
      onError();
    };
    super({
      ...options,
      onReadable(count: number) {
        if (failed) return;
        try {
          onReadable(count);
        } catch (error) {
          fail(error);
        }
      },
      onWritable(count: number) {
        if (failed) return;
        try {
          onWritable(count);
        } catch (error) {
          fail(error);
        }
      },
      onError(cause?: unknown) {
        if (!failed) onError(cause);
      },
    } as unknown as ConstructorParameters<typeof TCP>[0]);
  }
}

export function connectTls(
  options: {
    address: string;
    port: number;
    host: string;
    ca?: Uint8Array;
    cert?: Uint8Array;
    key?: Uint8Array;
    verify?: boolean;
  } & StreamHandlers,
): StreamSocket {
  if (typeof options.address !== "string" || !isIpAddress(options.address))
    throw new MoteError("invalid-argument", "address must be an IP address (resolve host names first)");
  if (typeof options.host !== "string" || options.host.length === 0)
    throw new MoteError("invalid-argument", "host (the server name to verify) must be a non-empty string");
  const port = checkPort(options.port, false);
  const der = tlsCredentials(options);
  const secure: Record<string, unknown> = { verify: options.verify !== false };
  if (der.ca !== undefined) secure.certificate = bufferOf(der.ca);
  if (der.cert !== undefined) secure.clientCertificates = [bufferOf(der.cert)];
  if (der.key !== undefined) secure.clientKey = bufferOf(der.key);
  const tcp: TcpOption = { io: GuardedTCP };
  const stream = new HostStream(options);
  return stream.open(
    (callbacks) =>
      new TLSSocket({
        address: options.address,
        port,
        host: options.host,
        secure,
        TCP: tcp,
        onReadable: callbacks.onReadable,
        onWritable: callbacks.onWritable,
        onError(this: HostSocket, cause?: unknown) {
          callbacks.onError.call(this, cause ?? tcp.failure);
        },
      } as unknown as ConstructorParameters<typeof TLSSocket>[0]) as unknown as HostSocket,
  );
}
