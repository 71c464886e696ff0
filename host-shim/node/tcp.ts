/**
 * Node twin of `embedded:io/socket/tcp` (ECMA-419 TCP socket, as Moddable's
 * modules/io/socket/lwip/tcp.c behaves on the ESP32):
 *
 * - `new TCP({ address, port, nodelay, onReadable, onWritable, onError })`
 *   connects to an IP address (no host names: resolve first, as on lwip);
 *   `new TCP({ from })` adopts a socket returned by `Listener.read()`.
 * - the first `onWritable(count)` means connected; `count` is what `write()`
 *   accepts now: SEND_BUDGET minus what Node still buffers for the kernel. It
 *   is announced again as the kernel takes the data. A bigger write throws
 *   ("would block"), a write before connect throws ("not ready").
 * - `onReadable(count)` announces bytes held; `read(count?)` returns an
 *   ArrayBuffer of exactly `count` (default: all) and throws when asked for
 *   more than is held. Holding more than RECEIVE_LIMIT pauses the Node socket,
 *   so a slow reader pushes back on the peer through TCP flow control.
 * - `onError(error)` fires once, after the receive buffer is drained, for
 *   every end: a clean close by the peer too. The Error's message starts with
 *   the cause code (`refused:`, `reset:`, `timeout:`, `unreachable:`,
 *   `closed:`, `dns:`, `tls:`, `error:`); on the device lwip passes no
 *   argument and the platform wrapper infers the cause.
 * - no callback runs after `close()`.
 */
import net from "node:net";
import { trackHandle, untrackHandle } from "./hardware.js";

/** Bytes `write()` may have outstanding in Node's own buffer (lwip TCP_SND_BUF-like). */
export const SEND_BUDGET = 8 * 1024;
/** Unread received bytes above which the Node socket is paused. */
export const RECEIVE_LIMIT = 64 * 1024;

const READABLE = 1;
const WRITABLE = 2;
const ERROR = 4;

type Handler = (this: TCP, value?: unknown) => void;

export interface TcpOptions {
  address?: string;
  host?: string;
  port?: number;
  from?: TCP;
  nodelay?: boolean;
  onReadable?: (this: TCP, count: number) => void;
  onWritable?: (this: TCP, count: number) => void;
  onError?: (this: TCP, error?: Error) => void;
  format?: "buffer";
  target?: unknown;
}

/** Largest amounts the twins ever held, for tests that assert memory stays bounded. */
const stats = { maxReceiveHeld: 0, maxSendHeld: 0 };
export function tcpMemoryStats(): { maxReceiveHeld: number; maxSendHeld: number } {
  return { ...stats };
}
export function resetTcpMemoryStats(): void {
  stats.maxReceiveHeld = 0;
  stats.maxSendHeld = 0;
}

/** Maps a Node socket error to the cause codes of the platform layer. */
export function causeOf(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case "ECONNREFUSED":
      return "refused";
    case "ECONNRESET":
    case "EPIPE":
    case "ECONNABORTED":
      return "reset";
    case "ETIMEDOUT":
      return "timeout";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EADDRNOTAVAIL":
      return "unreachable";
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return "dns";
  }
  const code = error.code ?? "";
  if (
    code.startsWith("ERR_TLS") ||
    code.startsWith("ERR_SSL") ||
    /CERT|SELF_SIGNED|UNABLE_TO|SIGNATURE/.test(code) ||
    (error as { library?: string }).library === "SSL routines"
  )
    return "tls";
  return "error";
}

/** An Error whose message starts with the cause code, as the wrapper expects. */
export function hostError(cause: string, detail: string): Error {
  return new Error(`${cause}: ${detail}`);
}

/** Internal: how a subclass (TLS) or the listener hands over a ready Node socket. */
export interface AttachRequest {
  socket: net.Socket;
  /** Event meaning "connected" ("connect", "secureConnect"), or undefined if already connected. */
  connectEvent?: string;
}

const ATTACH = Symbol("attach");

export default class TCP {
  remoteAddress: string | undefined = undefined;
  remotePort: number | undefined = undefined;
  readonly format = "buffer";
  target: unknown;

  #socket: net.Socket | undefined;
  #chunks: Uint8Array[] = [];
  #offset = 0; // consumed bytes of #chunks[0]
  #buffered = 0;
  #paused = false;
  #ready = false;
  #error: Error | undefined;
  #errorDelivered = false;
  #closed = false;
  #corked = false;
  #triggered = 0;
  #scheduled = false;
  #onReadable: TcpOptions["onReadable"];
  #onWritable: TcpOptions["onWritable"];
  #onError: TcpOptions["onError"];
  #closer = { close: () => this.close() };

  constructor(options: TcpOptions | { [ATTACH]: AttachRequest | "accepted"; socket: net.Socket }, attach?: AttachRequest) {
    if (ATTACH in options) {
      // Created by the listener: holds an accepted socket, paused, until adopted.
      this.#socket = options.socket;
      this.#socket.pause();
      this.#socket.on("error", () => {}); // not ours to report until adopted
      this.#ready = true;
      this.remoteAddress = this.#socket.remoteAddress;
      this.remotePort = this.#socket.remotePort;
      trackHandle(this.#closer);
      return;
    }
    this.#onReadable = options.onReadable;
    this.#onWritable = options.onWritable;
    this.#onError = options.onError;
    this.target = options.target;
    // Optional values may arrive as null through the XS bridge (JSON): treat null as absent.
    if (options.format != null && options.format !== "buffer") throw new RangeError("unimplemented");

    let request: AttachRequest;
    if (attach !== undefined) request = attach;
    else if (options.from != null) {
      const socket = options.from.#detach();
      if (socket === undefined) throw new Error("invalid from");
      request = { socket };
    } else {
      const address = options.address;
      if (typeof address !== "string" || net.isIP(address) === 0) throw new Error("invalid address");
      const port = options.port;
      if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError("invalid port");
      const socket = new net.Socket();
      request = { socket, connectEvent: "connect" };
      socket.connect({ host: address, port });
    }
    if (options.nodelay != null) request.socket.setNoDelay(options.nodelay);
    this.#attach(request);
  }

  /** Bytes `write()` accepts now. */
  #writable(): number {
    const socket = this.#socket;
    if (socket === undefined) return 0;
    return Math.max(0, SEND_BUDGET - socket.writableLength);
  }

  #attach({ socket, connectEvent }: AttachRequest): void {
    this.#socket = socket;
    trackHandle(this.#closer);
    socket.on("data", (chunk: Buffer) => this.#received(chunk));
    socket.on("end", () => this.#fail(hostError("closed", "peer closed the connection")));
    socket.on("error", (error: NodeJS.ErrnoException) => this.#fail(hostError(causeOf(error), error.message)));
    socket.on("close", () => this.#fail(hostError("closed", "connection closed")));
    const connected = () => {
      this.#ready = true;
      this.remoteAddress = socket.remoteAddress;
      this.remotePort = socket.remotePort;
      this.#trigger(WRITABLE | READABLE);
    };
    if (connectEvent === undefined) connected();
    else socket.once(connectEvent, connected);
    socket.resume();
  }

  #received(chunk: Buffer): void {
    if (this.#closed) return;
    this.#chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#buffered += chunk.byteLength;
    if (this.#buffered > stats.maxReceiveHeld) stats.maxReceiveHeld = this.#buffered;
    if (this.#buffered >= RECEIVE_LIMIT && !this.#paused) {
      this.#paused = true;
      this.#socket?.pause();
    }
    this.#trigger(READABLE);
  }

  #fail(error: Error): void {
    if (this.#error !== undefined || this.#closed) return;
    this.#error = error;
    this.#ready = false;
    this.#trigger(ERROR);
  }

  #trigger(flags: number): void {
    this.#triggered |= flags;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#deliver());
  }

  // One delivery per turn, in lwip's order: readable, then writable unless an
  // error is pending, else the error once the receive buffer is empty.
  #deliver(): void {
    this.#scheduled = false;
    const triggered = this.#triggered;
    this.#triggered = 0;
    if (this.#closed) return;
    if (triggered & READABLE && this.#buffered > 0) this.#onReadable?.call(this, this.#buffered);
    if (this.#closed) return;
    if (this.#error === undefined) {
      if (triggered & WRITABLE && this.#ready) {
        const count = this.#writable();
        if (count > 0) this.#onWritable?.call(this, count);
      }
    } else if (this.#buffered === 0 && !this.#errorDelivered) {
      this.#errorDelivered = true;
      const error = this.#error;
      this.#release();
      this.#onError?.call(this, error);
    }
  }

  /**
   * `read()` / `read(count)` return a new ArrayBuffer; `read(buffer)` fills the
   * whole of an ArrayBuffer or view and returns its length, as Moddable's
   * sockets do (modules/io/socket/lwip/tcp.c): "invalid" when it holds fewer.
   */
  read(count?: number | null | ArrayBuffer | ArrayBufferView): ArrayBuffer | number | undefined {
    if (this.#buffered === 0) return undefined;
    const into = count instanceof ArrayBuffer ? new Uint8Array(count) : ArrayBuffer.isView(count) ? new Uint8Array(count.buffer, count.byteOffset, count.byteLength) : undefined;
    const requested = into !== undefined ? into.byteLength : count == null ? this.#buffered : Math.floor(Number(count));
    if (!(requested > 0) || requested > this.#buffered) throw new Error("invalid");
    const out = into ?? new Uint8Array(requested);
    let filled = 0;
    while (filled < requested) {
      const head = this.#chunks[0];
      const take = Math.min(head.byteLength - this.#offset, requested - filled);
      out.set(head.subarray(this.#offset, this.#offset + take), filled);
      filled += take;
      this.#offset += take;
      if (this.#offset === head.byteLength) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    }
    this.#buffered -= requested;
    if (this.#paused && this.#buffered < RECEIVE_LIMIT / 2 && this.#error === undefined) {
      this.#paused = false;
      this.#socket?.resume();
    }
    if (this.#buffered === 0 && this.#error !== undefined) this.#trigger(ERROR);
    return into !== undefined ? requested : (out.buffer as ArrayBuffer);
  }

  write(data: ArrayBuffer | ArrayBufferView): number {
    if (this.#closed) throw new Error("closed");
    if (this.#error !== undefined) return 0;
    if (!this.#ready) throw new Error("not ready");
    const socket = this.#socket!;
    const bytes =
      data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength > this.#writable()) throw new Error("would block");
    // Writes made in one turn go out together (one writev), as lwip coalesces
    // tcp_write calls into segments; without it every small packet is a syscall.
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        if (!socket.destroyed) socket.uncork();
      });
    }
    socket.write(Buffer.from(bytes), () => this.#trigger(WRITABLE)); // Buffer.from copies
    if (socket.writableLength > stats.maxSendHeld) stats.maxSendHeld = socket.writableLength;
    return this.#writable();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onReadable = this.#onWritable = this.#onError = undefined;
    this.#chunks = [];
    this.#buffered = 0;
    this.#release();
  }

  /** Lets go of the Node socket: pending output is flushed, then FIN; unread input is dropped. */
  #release(): void {
    untrackHandle(this.#closer);
    const socket = this.#socket;
    if (socket === undefined) return;
    this.#socket = undefined;
    socket.removeAllListeners("data");
    socket.on("error", () => {});
    if (socket.destroyed) return;
    socket.on("data", () => {});
    socket.resume();
    socket.end();
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  /** For `new TCP({ from })`: hands the socket over and closes this object. */
  #detach(): net.Socket | undefined {
    const socket = this.#socket;
    if (socket === undefined || this.#closed) return undefined;
    socket.removeAllListeners();
    this.#socket = undefined;
    this.#closed = true;
    untrackHandle(this.#closer);
    return socket;
  }
}

/** Internal (listener twin): wraps an accepted Node socket as Listener.read() returns it. */
export function acceptedSocket(socket: net.Socket): TCP {
  return new TCP({ [ATTACH]: "accepted", socket });
}
