/**
 * UDP socket over `embedded:io/socket/udp` (ECMA-419 §10.5): `onReadable(n)`
 * announces `n` datagrams, `read()` returns one as an ArrayBuffer carrying
 * `address` and `port` (undefined when none), `write(data, address, port)`
 * sends one. `n` is only a hint: each event drains the host's queue.
 */
import UDP from "embedded:io/socket/udp";
import { MoteError } from "../errors.js";
import { checkPort, isIpAddress, messageOf, socketErrorCode, type SocketErrorCode } from "./tcp.js";

/** Datagrams taken per onReadable at most (hosts queue far fewer). */
const MAX_READS_PER_EVENT = 1024;

export interface DatagramSocket {
  send(data: Uint8Array, address: string, port: number): void;
  close(): void;
  readonly port: number;
}

/** `address` if it is an IP address, or throws (off the per-datagram path: send() checks a new address only). */
function checkAddress(address: unknown): string {
  if (typeof address !== "string" || !isIpAddress(address)) throw new MoteError("invalid-argument", "address must be an IP address");
  return address;
}

export function openUdp(options: {
  port?: number;
  address?: string;
  onPacket(data: Uint8Array, address: string, port: number): void;
  onError?(code: SocketErrorCode, message?: string): void;
}): DatagramSocket {
  const port = checkPort(options.port ?? 0, true);
  if (options.address !== undefined && (typeof options.address !== "string" || !isIpAddress(options.address)))
    throw new MoteError("invalid-argument", "address must be an IP address");
  let closed = false;
  /** The last destination address that passed the check in send(). */
  let checked: string | undefined;
  let host: InstanceType<typeof UDP>;
  try {
    host = new UDP({
      port,
      ...(options.address === undefined ? {} : { address: options.address }),
      onReadable() {
        // The announced count can be stale (events queued through the XS bridge,
        // datagrams that arrived since): read until the host has none, so neither
        // a high count throws nor a low one leaves datagrams behind. The host's
        // queue is bounded; the guard only stops a host that never says "none".
        for (let i = 0; i < MAX_READS_PER_EVENT && !closed; i++) {
          let packet: (ArrayBuffer & { address: string; port: number }) | undefined;
          try {
            packet = this.read() as typeof packet;
          } catch {
            break; // a host that throws rather than return undefined when empty
          }
          if (packet === undefined || packet === null) break;
          options.onPacket(new Uint8Array(packet), packet.address, packet.port);
        }
      },
      onError(this: unknown, cause?: unknown) {
        if (!closed) options.onError?.(socketErrorCode(cause, "error"), messageOf(cause));
      },
    } as ConstructorParameters<typeof UDP>[0]);
  } catch (error) {
    const message = messageOf(error) ?? "bind failed";
    // Moddable's lin runtime says only "bind failed" (modules/io/socket/lin/udp.c)
    const code = /EADDRINUSE|in.use/i.test(message) ? "address-in-use" : /bind/i.test(message) ? "bind-failed" : "invalid-argument";
    throw new MoteError(code, message);
  }
  return {
    // Moddable's lin UDP has no `port` property: then the port asked for is the
    // port bound, and 0 (any port) stays 0 — unknown until the first send.
    get port(): number {
      const bound = (host as unknown as { port?: number }).port;
      return typeof bound === "number" ? bound : port;
    },
    send(data: Uint8Array, address: string, toPort: number): void {
      if (closed) throw new MoteError("closed", "socket is closed");
      // The address check (regular expressions) cost XS more than the datagram itself
      // (bench/RESULTS.md, coap): a socket mostly sends to one peer, so the last
      // address that passed is not checked again.
      if (address !== checked) checked = checkAddress(address);
      checkPort(toPort, false);
      try {
        host.write(data, address, toPort);
      } catch (error) {
        // A host without IPv6 (Moddable's lin UDP is AF_INET only) cannot reach an
        // IPv6 peer: that is "unreachable", not a bad argument.
        const message = messageOf(error) ?? "send failed";
        if (socketErrorCode(error, "error") === "unreachable" || address.includes(":"))
          throw new MoteError("unreachable", address.includes(":") && !message.includes(address) ? `cannot send to the IPv6 address ${address} (${message})` : message);
        throw new MoteError("invalid-argument", message);
      }
    },
    close(): void {
      if (closed) return;
      closed = true;
      (host as unknown as { close(): void }).close();
    },
  };
}
