/**
 * Node twin of `embedded:io/socket/listener` (ECMA-419 TCP listener):
 * `new Listener({ port, address, onReadable(count) })` listens at once (the
 * port, also an ephemeral one for port 0, is known when the constructor
 * returns, as on lwip); `onReadable(count)` announces pending connections and
 * `read()` returns one as a TCP socket to adopt with `new TCP({ from })`.
 * Pending connections are bounded (BACKLOG): beyond it new ones are refused
 * by closing them, as a full lwip accept queue does.
 */
import net from "node:net";
import TCP, { acceptedSocket } from "./tcp.js";
import { trackHandle, untrackHandle } from "./hardware.js";

/** Accepted connections waiting for `read()`. */
export const BACKLOG = 16;

export interface ListenerOptions {
  port?: number;
  address?: string;
  onReadable?: (this: Listener, count: number) => void;
  format?: "socket/tcp";
  target?: unknown;
}

interface TcpWrapHandle {
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
  getsockname(out: { port?: number }): number;
  listen(backlog: number): number;
  close(): void;
}

/**
 * Binds a listening handle synchronously so that `port` is known at once.
 * Node's public API binds asynchronously; its tcp_wrap binding does it
 * synchronously. Returns undefined where that binding is unavailable.
 */
function bindNow(address: string, port: number): { handle: TcpWrapHandle; port: number } | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding("tcp_wrap") as {
      TCP: new (kind: number) => TcpWrapHandle;
      constants: { SERVER: number };
    };
    const handle = new binding.TCP(binding.constants.SERVER);
    // libuv reports EADDRINUSE at listen(), not bind(): do both now.
    let rc = net.isIPv6(address) ? handle.bind6(address, port, 0) : handle.bind(address, port);
    if (rc === 0) rc = handle.listen(511);
    if (rc !== 0) {
      handle.close();
      const code = rc === -98 ? "EADDRINUSE" : rc === -13 ? "EACCES" : "ELISTEN";
      const error = new Error(`${code}: listen failed (${rc}) on ${address}:${port}`) as NodeJS.ErrnoException;
      error.code = code;
      throw error;
    }
    const out: { port?: number } = {};
    handle.getsockname(out);
    return { handle, port: out.port ?? port };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code?.startsWith("E")) throw error;
    return undefined;
  }
}

export default class Listener {
  readonly format = "socket/tcp";
  port: number;
  target: unknown;
  #server: net.Server;
  #pending: TCP[] = [];
  #onReadable: ListenerOptions["onReadable"];
  #scheduled = false;
  #closed = false;
  #closer = { close: () => this.close() };

  constructor(options: ListenerOptions) {
    const address = options.address ?? "0.0.0.0";
    const port = options.port ?? 0;
    if (net.isIP(address) === 0) throw new Error("invalid address");
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError("invalid port");
    this.#onReadable = options.onReadable;
    this.target = options.target;
    this.#server = net.createServer({ pauseOnConnect: true }, (socket) => this.#accepted(socket));
    this.#server.on("error", () => {}); // bind errors are thrown from bindNow
    const bound = bindNow(address, port);
    if (bound !== undefined) {
      this.port = bound.port;
      this.#server.listen(bound.handle as unknown as net.ListenOptions);
    } else {
      this.port = port;
      this.#server.listen({ port, host: address }, () => {
        const info = this.#server.address();
        if (info !== null && typeof info === "object") this.port = info.port;
      });
    }
    trackHandle(this.#closer);
  }

  #accepted(socket: net.Socket): void {
    if (this.#closed || this.#pending.length >= BACKLOG) {
      socket.destroy();
      return;
    }
    this.#pending.push(acceptedSocket(socket));
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        if (!this.#closed && this.#pending.length > 0) this.#onReadable?.call(this, this.#pending.length);
      });
    }
  }

  /** The next pending connection, or undefined. */
  read(): TCP | undefined {
    return this.#pending.shift();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onReadable = undefined;
    for (const socket of this.#pending) socket.close();
    this.#pending = [];
    this.#server.close();
    untrackHandle(this.#closer);
  }
}
