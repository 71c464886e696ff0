/**
 * TLS client socket over `embedded:io/socket/tcp/tls` (ECMA-419 TLS socket;
 * Moddable's securesocket underneath). Same contract as tcp.ts (first
 * onWritable = connected and handshaken); a failed handshake or certificate
 * check ends with the "tls" code where the host reports it.
 *
 * Host options, in Moddable's `secure` dictionary: `certificate` = trusted CA
 * (DER or PEM bytes), `clientCertificates` / `clientKey` for mutual TLS,
 * `verify: false` to skip the server check (tests against self-signed peers).
 */
import TLSSocket from "embedded:io/socket/tcp/tls";
import { MoteError } from "../errors.js";
import { checkPort, HostStream, isIpAddress, type HostSocket, type StreamHandlers, type StreamSocket } from "./tcp.js";

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
  if ((options.cert === undefined) !== (options.key === undefined))
    throw new MoteError("invalid-argument", "cert and key go together");
  const secure: Record<string, unknown> = { verify: options.verify !== false };
  if (options.ca !== undefined) secure.certificate = options.ca.slice().buffer;
  if (options.cert !== undefined) secure.clientCertificates = [options.cert.slice().buffer];
  if (options.key !== undefined) secure.clientKey = options.key.slice().buffer;
  const stream = new HostStream(options);
  return stream.open(
    (callbacks) =>
      new TLSSocket({
        address: options.address,
        port,
        host: options.host,
        secure,
        ...callbacks,
      } as unknown as ConstructorParameters<typeof TLSSocket>[0]) as unknown as HostSocket,
  );
}
