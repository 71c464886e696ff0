/**
 * TCP connections over the platform socket (src/platform/tcp.ts).
 *
 * Theory of operation
 * - State is one field: "connecting" (name lookup + TCP handshake) -> "open"
 *   -> "ending" (end() called: flushing the queue) -> "closed".
 * - Sending: `write()` appends to a bounded WriteQueue and returns false once
 *   the queue reaches its high-water mark; the queue drains into the
 *   socket's onWritable budget (ECMA-419: a bigger write would throw) and
 *   `onDrain` fires when a write that returned false has been fully handed
 *   to the socket. Past the queue limit `write()` throws NetError("overflow").
 * - Receiving: bytes go straight from the socket to `onData` in chunks of at
 *   most `readChunkBytes`; nothing is held here. `pause()` stops reading:
 *   the bytes stay in the host socket (bounded there — lwip's TCP window on
 *   the device, 64 KB in the desktop twin) and TCP flow control then stops
 *   the peer (RFC 9293 §3.8.6 window management). `resume()` reads again.
 * - Ending: `onClose(error?)` fires exactly once — no error for a clean
 *   close (ours via end(), or the peer's FIN), a NetError otherwise
 *   (refused, reset, timeout, unreachable, dns, tls). After `destroy()`
 *   nothing fires.
 */
import { connectTcp, adoptTcp, type AcceptedConnection, type SocketErrorCode, type StreamSocket } from "../platform/tcp.js";
import { connectTls } from "../platform/tls.js";
import { resolveHost } from "../platform/dns.js";
import { clearTimer, setTimer, type TimerHandle } from "../platform/timer.js";
import { encodeUtf8 } from "../util/utf8.js";
import { NetError } from "./errors.js";
import { WriteQueue } from "./write-queue.js";

export type TcpState = "connecting" | "open" | "ending" | "closed";

export interface TcpStreamOptions {
  /** `write()` returns false at or above this many queued bytes. Default 8 KB. */
  highWaterMark?: number;
  /** Queued bytes beyond which `write()` throws NetError("overflow"). Default 64 KB. */
  maxQueueBytes?: number;
  /** Largest chunk handed to `onData`. Default 4 KB. */
  readChunkBytes?: number;
}

export interface TcpHandlers {
  /** The connection is open (after DNS and the handshake; at once for accepted ones). */
  onConnect?(): void;
  /** Received bytes (a fresh array the handler may keep). */
  onData?(data: Uint8Array): void;
  /** The write queue emptied after a `write()` returned false. */
  onDrain?(): void;
  /** The connection ended: no error for a clean close, a NetError otherwise. Once. */
  onClose?(error?: NetError): void;
}

export const DEFAULT_HIGH_WATER_MARK = 8 * 1024;
export const DEFAULT_MAX_QUEUE_BYTES = 64 * 1024;
export const DEFAULT_READ_CHUNK_BYTES = 4 * 1024;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0)
    throw new NetError("invalid-argument", `${name} must be a positive integer`);
  return value;
}

/** One TCP connection: what TcpClient connects and TcpServer accepts. */
export class TcpStream implements TcpHandlers {
  onConnect?: () => void;
  onData?: (data: Uint8Array) => void;
  onDrain?: () => void;
  onClose?: (error?: NetError) => void;

  #state: TcpState = "connecting";
  #socket: StreamSocket | undefined;
  #queue: WriteQueue;
  #budget = 0;
  #needDrain = false;
  #paused = false;
  #pendingRead = false; // the socket announced bytes we have not read yet
  #readChunk: number;
  #ended: (() => void) | undefined; // the server's bookkeeping
  #graceMs = 0;
  #grace: TimerHandle | undefined; // end(graceMs): waiting for the peer to close

  protected constructor(options: TcpStreamOptions & TcpHandlers) {
    const hwm = positive("highWaterMark", options.highWaterMark, DEFAULT_HIGH_WATER_MARK);
    const limit = positive("maxQueueBytes", options.maxQueueBytes, Math.max(DEFAULT_MAX_QUEUE_BYTES, hwm));
    this.#queue = new WriteQueue(hwm, limit);
    this.#readChunk = positive("readChunkBytes", options.readChunkBytes, DEFAULT_READ_CHUNK_BYTES);
    this.onConnect = options.onConnect;
    this.onData = options.onData;
    this.onDrain = options.onDrain;
    this.onClose = options.onClose;
  }

  get state(): TcpState {
    return this.#state;
  }

  /** Bytes waiting in the write queue. */
  get queuedBytes(): number {
    return this.#queue.size;
  }

  get remoteAddress(): string | undefined {
    return this.#socket?.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#socket?.remotePort;
  }

  /**
   * Queues bytes (a UTF-8 string or a Uint8Array that must not change until
   * sent). Returns false when the queue is at its high-water mark: wait for
   * `onDrain` before writing more. Writing while connecting is allowed.
   */
  write(data: Uint8Array | string): boolean {
    if (this.#state === "ending" || this.#state === "closed")
      throw new NetError("closed", "write after end");
    const bytes = typeof data === "string" ? encodeUtf8(data) : data;
    if (!(bytes instanceof Uint8Array)) throw new NetError("invalid-argument", "data must be a Uint8Array or string");
    this.#queue.push(bytes);
    this.#flush();
    const ok = this.#queue.size < this.#queue.highWaterMark;
    if (!ok) this.#needDrain = true;
    return ok;
  }

  /**
   * Sends what is queued, then closes; `onClose()` follows. With `graceMs`,
   * waits after sending up to that long for the peer to close first while
   * still delivering what it sends — a request/response finishes without
   * the half-close that ECMA-419 sockets lack.
   */
  end(graceMs = 0): void {
    if (this.#state === "ending" || this.#state === "closed") return;
    if (!(graceMs >= 0)) throw new NetError("invalid-argument", "graceMs must be >= 0");
    this.#graceMs = graceMs;
    if (this.#state === "connecting") {
      // Nothing can be sent yet: keep the queue and close once connected and flushed.
      this.#state = "ending";
      return;
    }
    this.#state = "ending";
    this.#flush();
  }

  /** Closes at once, dropping queued bytes. No callback fires afterwards. */
  destroy(): void {
    this.#release();
    this.#state = "closed";
    this.#notifyEnded();
    this.onConnect = this.onData = this.onDrain = this.onClose = undefined;
  }

  /** Stops delivering data; the host socket and then TCP flow control hold the peer. */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#pendingRead) this.#drainReads();
  }

  get isPaused(): boolean {
    return this.#paused;
  }

  // ---- binding to the platform socket ------------------------------------

  protected attach(open: (handlers: SocketCallbacks) => StreamSocket): void {
    if (this.#state === "closed") return;
    let connected = false;
    this.#socket = open({
      onReadable: () => {
        this.#pendingRead = true;
        if (!this.#paused) this.#drainReads();
      },
      onWritable: (count) => {
        this.#budget = count;
        if (!connected) {
          connected = true;
          this.connected();
          if (this.#state === "closed") return;
          if (this.#state === "connecting") this.#state = "open";
          this.onConnect?.();
        }
        this.#flush();
      },
      onError: (code) => {
        this.#socket = undefined; // the platform wrapper closed it
        this.fail(code === "closed" && connected ? undefined : new NetError(code, `connection ${describe(code)}`));
      },
    });
  }

  /** Hook for TcpClient: the handshake completed. */
  protected connected(): void {}

  #drainReads(): void {
    while (!this.#paused && this.#socket !== undefined) {
      const data = this.#socket.read(this.#readChunk);
      if (data === undefined) {
        this.#pendingRead = false;
        return;
      }
      this.onData?.(data);
    }
  }

  #flush(): void {
    const socket = this.#socket;
    if (socket === undefined || this.#state === "connecting") return;
    while (this.#budget > 0) {
      const chunk = this.#queue.take(this.#budget);
      if (chunk === undefined) break;
      socket.write(chunk);
      this.#budget -= chunk.byteLength;
    }
    if (!this.#queue.isEmpty) return;
    if (this.#state === "ending") {
      if (this.#graceMs > 0) {
        this.#grace ??= setTimer(() => this.fail(undefined), this.#graceMs);
        return;
      }
      this.#release();
      this.fail(undefined);
      return;
    }
    if (this.#needDrain) {
      this.#needDrain = false;
      this.onDrain?.();
    }
  }

  /** Ends the connection once with `error` (undefined = clean). */
  protected fail(error: NetError | undefined): void {
    if (this.#state === "closed") return;
    this.#release();
    this.#state = "closed";
    this.#notifyEnded();
    const onClose = this.onClose;
    this.onConnect = this.onData = this.onDrain = this.onClose = undefined;
    onClose?.(error);
  }

  #release(): void {
    clearTimer(this.#grace);
    this.#grace = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    this.#queue.clear();
    this.released();
    socket?.close();
  }

  #notifyEnded(): void {
    const ended = this.#ended;
    this.#ended = undefined;
    ended?.();
  }

  /** Hook for TcpClient: drop timers. */
  protected released(): void {}

  /** Internal (TcpServer): a connection a listener accepted. */
  static adopt(accepted: AcceptedConnection, options: TcpStreamOptions & TcpHandlers = {}, onEnded?: () => void): TcpStream {
    const stream = new TcpStream(options);
    stream.#ended = onEnded;
    stream.#state = "open"; // established already; send space comes with the first onWritable
    stream.attach((handlers) => adoptTcp(accepted, handlers));
    return stream;
  }
}

interface SocketCallbacks {
  onReadable(count: number): void;
  onWritable(count: number): void;
  onError(code: SocketErrorCode, message?: string): void;
}

function describe(code: SocketErrorCode): string {
  switch (code) {
    case "refused":
      return "refused";
    case "reset":
      return "reset by peer";
    case "timeout":
      return "timed out";
    case "unreachable":
      return "host unreachable";
    case "closed":
      return "closed before it opened";
    case "dns":
      return "host name not resolved";
    case "tls":
      return "TLS handshake or certificate check failed";
    default:
      return "failed";
  }
}

export interface TcpClientOptions extends TcpStreamOptions, TcpHandlers {
  /** Host name or IP address. */
  host: string;
  port: number;
  /** Limit for name lookup + handshake. Default 10 s. */
  connectTimeoutMs?: number;
  nodelay?: boolean;
  /** Connect with TLS (server name = `host` unless `serverName`). */
  tls?: { ca?: Uint8Array; cert?: Uint8Array; key?: Uint8Array; verify?: boolean; serverName?: string };
}

// RFC 1123 §2.1 + RFC 1035 §2.3.4: host names are at most 253 characters.
const MAX_HOST = 253;

/** A TCP client connection: resolves `host`, connects with a timeout. */
export class TcpClient extends TcpStream {
  #timer: TimerHandle | undefined;

  constructor(options: TcpClientOptions) {
    const { host, port } = options;
    if (typeof host !== "string" || host.length === 0 || host.length > MAX_HOST || /[\s/]/.test(host))
      throw new NetError("invalid-argument", "host must be a host name or IP address");
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
      throw new NetError("invalid-argument", "port must be an integer 1..65535");
    const timeout = positive("connectTimeoutMs", options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
    super(options);
    this.#timer = setTimer(() => {
      this.#timer = undefined;
      this.fail(new NetError("timeout", `no connection to ${host}:${port} within ${timeout} ms`));
    }, timeout);
    resolveHost(host, (address, error) => {
      if (this.state === "closed") return;
      if (address === undefined) {
        this.fail(new NetError(error ?? "dns", `cannot resolve ${host}`));
        return;
      }
      try {
        this.attach((handlers) =>
          options.tls === undefined
            ? connectTcp({ address, port, ...(options.nodelay === undefined ? {} : { nodelay: options.nodelay }), ...handlers })
            : connectTls({
                address,
                port,
                host: options.tls.serverName ?? host,
                ...(options.tls.ca === undefined ? {} : { ca: options.tls.ca }),
                ...(options.tls.cert === undefined ? {} : { cert: options.tls.cert }),
                ...(options.tls.key === undefined ? {} : { key: options.tls.key }),
                ...(options.tls.verify === undefined ? {} : { verify: options.tls.verify }),
                ...handlers,
              }),
        );
      } catch (e) {
        this.fail(new NetError("error", e instanceof Error ? e.message : "connect failed"));
      }
    });
  }

  protected override connected(): void {
    clearTimer(this.#timer);
    this.#timer = undefined;
  }

  protected override released(): void {
    clearTimer(this.#timer);
    this.#timer = undefined;
  }
}
