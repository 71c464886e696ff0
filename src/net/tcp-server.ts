/**
 * A TCP server: listens, accepts up to `maxConnections` at once (default 8:
 * each open connection costs lwip and heap memory on the device); a
 * connection beyond the limit is accepted and closed at once, and counted in
 * `rejectedConnections`. Each accepted connection is a TcpStream, handed to
 * `onConnection` already open, to which the handler assigns its callbacks.
 */
import { listenTcp, type TcpListener } from "../platform/listener.js";
import { MoteError } from "../errors.js";
import { NetError } from "./errors.js";
import { TcpStream, type TcpStreamOptions } from "./tcp.js";

export const DEFAULT_MAX_CONNECTIONS = 8;

export interface TcpServerOptions extends TcpStreamOptions {
  /** 0 = any free port (see `port` after construction). */
  port: number;
  /** Local IP address to listen on; default all interfaces. */
  address?: string;
  maxConnections?: number;
  /** A new connection; set its onData/onClose/... here. */
  onConnection(connection: TcpStream): void;
}

export class TcpServer {
  readonly maxConnections: number;
  #listener: TcpListener | undefined;
  #connections = new Set<TcpStream>();
  #rejected = 0;

  constructor(options: TcpServerOptions) {
    const max = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (!Number.isInteger(max) || max < 1) throw new NetError("invalid-argument", "maxConnections must be a positive integer");
    if (typeof options.onConnection !== "function") throw new NetError("invalid-argument", "onConnection is required");
    this.maxConnections = max;
    const streamOptions: TcpStreamOptions = {
      ...(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark }),
      ...(options.maxQueueBytes === undefined ? {} : { maxQueueBytes: options.maxQueueBytes }),
      ...(options.readChunkBytes === undefined ? {} : { readChunkBytes: options.readChunkBytes }),
    };
    try {
      this.#listener = listenTcp({
        port: options.port,
        ...(options.address === undefined ? {} : { address: options.address }),
        onConnection: (accepted) => {
          if (this.#connections.size >= this.maxConnections) {
            this.#rejected++;
            TcpStream.adopt(accepted).destroy();
            return;
          }
          const connection: TcpStream = TcpStream.adopt(accepted, streamOptions, () =>
            this.#connections.delete(connection),
          );
          this.#connections.add(connection);
          options.onConnection(connection);
        },
      });
    } catch (error) {
      if (error instanceof MoteError) throw new NetError(error.code === "invalid-argument" || error.code === "address-in-use" ? error.code : "error", error.message);
      throw error;
    }
  }

  /** The port listened on (the chosen one when constructed with 0). */
  get port(): number {
    return this.#listener?.port ?? 0;
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Connections closed at once because `maxConnections` were open. */
  get rejectedConnections(): number {
    return this.#rejected;
  }

  /** Stops listening and destroys every open connection (no onClose for them). */
  close(): void {
    this.#listener?.close();
    this.#listener = undefined;
    for (const c of [...this.#connections]) c.destroy();
    this.#connections.clear();
  }
}
