/**
 * TCP server socket over `embedded:io/socket/listener` (ECMA-419 §10.4):
 * `onReadable(count)` announces accepted connections (a hint: each event
 * takes all the host holds), `read()` hands each
 * out as a socket that `adoptTcp` turns into a StreamSocket
 * (`new TCP({ from })`). Every accepted connection must be adopted or closed:
 * the host holds it (and its memory) until then.
 */
import Listener from "embedded:io/socket/listener";
import { MoteError } from "../errors.js";
import { checkPort, isIpAddress, messageOf, type AcceptedConnection } from "./tcp.js";

/** Connections taken per onReadable at most (lwip's backlog is far smaller). */
const MAX_ACCEPTS_PER_EVENT = 256;

export interface TcpListener {
  readonly port: number;
  close(): void;
}

export function listenTcp(options: {
  port: number;
  address?: string;
  onConnection(accepted: AcceptedConnection): void;
}): TcpListener {
  const port = checkPort(options.port, true);
  if (options.address !== undefined && (typeof options.address !== "string" || !isIpAddress(options.address)))
    throw new MoteError("invalid-argument", "address must be an IP address");
  let closed = false;
  let host: InstanceType<typeof Listener>;
  try {
    host = new Listener({
      port,
      ...(options.address === undefined ? {} : { address: options.address }),
      onReadable() {
        // The announced count can be stale (see udp.ts): accept until the host
        // has none, so a low count leaves no connection waiting unadopted.
        for (let i = 0; i < MAX_ACCEPTS_PER_EVENT && !closed; i++) {
          let accepted: unknown;
          try {
            accepted = this.read();
          } catch {
            break; // a host that throws rather than return undefined when empty
          }
          if (accepted === undefined || accepted === null) break;
          options.onConnection(accepted as AcceptedConnection);
        }
      },
    });
  } catch (error) {
    const message = messageOf(error) ?? "listen failed";
    throw new MoteError(/EADDRINUSE|in use/i.test(message) ? "address-in-use" : "listen-failed", message);
  }
  return {
    get port(): number {
      return host.port;
    },
    close(): void {
      if (closed) return;
      closed = true;
      (host as unknown as { close(): void }).close();
    },
  };
}
