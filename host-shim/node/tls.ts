/**
 * Node twin of `embedded:io/socket/tcp/tls`: the TCP twin's semantics over
 * node:tls. Connected (first onWritable) = handshake done. Options as on
 * Moddable: `address`, `port`, `host` (server name for SNI and the
 * certificate check), `secure: { certificate, clientCertificates, clientKey,
 * verify }` with DER or PEM bytes. Certificate failures end with `tls:`.
 */
import tls from "node:tls";
import net from "node:net";
import TCP, { type TcpOptions } from "./tcp.js";

export interface TlsOptions extends TcpOptions {
  host?: string;
  secure?: {
    certificate?: ArrayBuffer | ArrayBufferView;
    clientCertificates?: (ArrayBuffer | ArrayBufferView)[];
    clientKey?: ArrayBuffer | ArrayBufferView;
    verify?: boolean;
  };
}

function bytesOf(value: ArrayBuffer | ArrayBufferView): Buffer {
  return value instanceof ArrayBuffer
    ? Buffer.from(new Uint8Array(value))
    : Buffer.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
}

/** PEM text as given, or DER wrapped as PEM with `label`. */
function pem(value: ArrayBuffer | ArrayBufferView, label: string): string {
  const bytes = bytesOf(value);
  const text = bytes.toString("latin1");
  if (text.includes("-----BEGIN")) return text;
  const body = bytes.toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

export default class TLSSocket extends TCP {
  constructor(options: TlsOptions) {
    const address = options.address;
    if (typeof address !== "string" || net.isIP(address) === 0) throw new Error("invalid address");
    const port = options.port;
    if (typeof port !== "number" || !Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError("invalid port");
    const secure = options.secure ?? {};
    const servername = options.host ?? address;
    const socket = tls.connect({
      host: address,
      port,
      servername: net.isIP(servername) === 0 ? servername : undefined,
      rejectUnauthorized: secure.verify !== false,
      checkServerIdentity: (_name, cert) => tls.checkServerIdentity(servername, cert),
      ca: secure.certificate != null ? [pem(secure.certificate, "CERTIFICATE")] : undefined,
      cert: secure.clientCertificates?.map((c) => pem(c, "CERTIFICATE")),
      key: secure.clientKey != null ? pem(secure.clientKey, "PRIVATE KEY") : undefined,
    });
    super({ ...options, address: undefined, port: undefined }, { socket, connectEvent: "secureConnect" });
  }
}
