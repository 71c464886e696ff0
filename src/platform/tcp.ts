/**
 * TCP client socket over `embedded:io/socket/tcp` (ECMA-419 §10.3 TCP socket,
 * as Moddable implements it in modules/io/socket/lwip/tcp.c):
 * - the first `onWritable(count)` means connected; `count` is the send space
 *   now (lwip tcp_sndbuf). `write()` past it is refused here with
 *   MoteError("overflow") instead of the host's untyped "would block";
 * - `onReadable(count)` announces received bytes; `read()` returns views.
 *   lwip's `read(count)` throws "invalid" when asked for more than it holds,
 *   and a count can be stale by the time it runs (events queued through the
 *   XS bridge, a duplicate announcement, bytes that arrived since). So the
 *   count is only a hint here: `read(count)` asks the host for at most what
 *   was announced and, when the host holds less than that, takes what it
 *   does hold; past the announcement it still asks, so bytes that came with
 *   a stale, low count are not left behind. read() never throws for it;
 * - `onError` fires once for every end, a clean close by the peer included,
 *   and only after everything received was announced. lwip passes no cause;
 *   the desktop twins pass an Error whose message starts with the cause code.
 *   Without a cause, an end before connecting counts as "refused" and after
 *   as "closed".
 * - no callback runs after `close()`.
 */
import TCP from "embedded:io/socket/tcp";
import { MoteError } from "../errors.js";

export type SocketErrorCode = "refused" | "reset" | "timeout" | "unreachable" | "closed" | "dns" | "tls" | "error";

export interface StreamHandlers {
  /** `count` bytes can be read now. */
  onReadable(count: number): void;
  /** First call = connected; `count` = bytes `write()` accepts now. */
  onWritable(count: number): void;
  /** The connection ended (also on a clean close by the peer: "closed"). Called once. */
  onError(code: SocketErrorCode, message?: string): void;
}

export interface StreamSocket {
  /** Up to `count` bytes (default: all available), or undefined when none. */
  read(count?: number): Uint8Array | undefined;
  /**
   * The bytes announced by the last `onReadable`, in a buffer this socket
   * fills again at its next readScratch(): read or copy them before then.
   * See HostStream.readScratch.
   */
  readScratch(): Uint8Array | undefined;
  /** Queues `data` for sending; throws MoteError("overflow") past the onWritable budget. */
  write(data: Uint8Array): void;
  /** Closes; no callbacks after this. Idempotent. */
  close(): void;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

export interface AcceptedConnection {
  readonly __brand: "accepted";
}

const CODES: readonly SocketErrorCode[] = Object.freeze([
  "refused",
  "reset",
  "timeout",
  "unreachable",
  "closed",
  "dns",
  "tls",
  "error",
]);

/**
 * The cause code of a host `onError` argument: an Error (or string) whose
 * message starts with `code:`; without one, `fallback`.
 */
export function socketErrorCode(cause: unknown, fallback: SocketErrorCode): SocketErrorCode {
  const message = messageOf(cause);
  if (message !== undefined) {
    const colon = message.indexOf(":");
    const head = colon > 0 ? message.slice(0, colon) : message;
    if ((CODES as readonly string[]).includes(head)) return head as SocketErrorCode;
  }
  return fallback;
}

export function messageOf(cause: unknown): string | undefined {
  if (typeof cause === "string") return cause;
  if (cause !== null && typeof cause === "object" && typeof (cause as { message?: unknown }).message === "string")
    return (cause as { message: string }).message;
  return undefined;
}

/** Whether `text` is an IPv4 dotted quad or an IPv6 literal (what the host modules accept). */
export function isIpAddress(text: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(text)) return text.split(".").every((p) => Number(p) <= 255);
  return /^[0-9a-fA-F:.]+$/.test(text) && text.includes(":") && text.length <= 45;
}

export function checkPort(port: unknown, allowZero: boolean): number {
  // Number.isInteger is false for anything but a number: no `typeof` literal (a chunk per datagram sent on XS)
  if (!Number.isInteger(port) || (port as number) < (allowZero ? 0 : 1) || (port as number) > 65535)
    throw new MoteError("invalid-argument", `port must be an integer ${allowZero ? 0 : 1}..65535`);
  return port as number;
}

/** Bytes in what a host `read()` returned: an ArrayBuffer, or 0 for anything else. */
function byteLengthOf(data: unknown): number {
  // instanceof, not typeof: a literal in preloaded code is a chunk per run (src/mqtt/names.ts)
  return data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? data.byteLength : 0;
}

/** readScratch()'s buffer: reads this size or smaller reuse it (an acknowledgement, a short command). */
const SCRATCH_BYTES = 256;

/** The host module's socket object (TCP or TLS). */
export type HostSocket = InstanceType<typeof TCP>;

/** The wrapper both connectTcp/adoptTcp and connectTls return. */
export class HostStream implements StreamSocket {
  #host: HostSocket | undefined;
  #handlers: StreamHandlers | undefined;
  #connected = false;
  #budget = 0;
  /** Bytes announced and not read yet: a hint, the host can hold more or fewer. */
  #available = 0;
  #remoteAddress: string | undefined;
  #remotePort: number | undefined;
  /** readScratch()'s buffer (made at its first use) and its last view, kept while the count repeats. */
  #scratch: ArrayBuffer | undefined;
  #scratchView: Uint8Array | undefined;

  constructor(handlers: StreamHandlers) {
    this.#handlers = handlers;
  }

  /** Creates the host socket with callbacks bound to this wrapper. */
  open(create: (callbacks: HostCallbacks) => HostSocket): this {
    const self = this;
    try {
      this.#host = create({
        onReadable(count: number) {
          self.#readable(count);
        },
        onWritable(count: number) {
          self.#writable(this as unknown as HostSocket, count);
        },
        onError(cause?: unknown) {
          self.#error(cause);
        },
      });
    } catch (error) {
      throw new MoteError("invalid-argument", messageOf(error) ?? "socket not created");
    }
    return this;
  }

  get remoteAddress(): string | undefined {
    return this.#remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#remotePort;
  }

  #readable(count: number): void {
    if (this.#handlers === undefined) return;
    // The latest announcement is the host's whole count at that moment.
    this.#available = count > 0 ? Math.floor(count) : 0;
    this.#handlers.onReadable(count);
  }

  #writable(host: HostSocket | undefined, count: number): void {
    const handlers = this.#handlers;
    if (handlers === undefined) return;
    this.#budget = count;
    if (!this.#connected) {
      this.#connected = true;
      const source = host ?? this.#host;
      try {
        this.#remoteAddress = source?.remoteAddress;
        this.#remotePort = source?.remotePort;
      } catch {
        // some hosts only know the peer once data flows; leave undefined
      }
    }
    handlers.onWritable(count);
  }

  #error(cause: unknown): void {
    const handlers = this.#handlers;
    if (handlers === undefined) return;
    const code = socketErrorCode(cause, this.#connected ? "closed" : "refused");
    const message = messageOf(cause);
    this.close();
    handlers.onError(code, message);
  }

  read(count?: number): Uint8Array | undefined {
    const host = this.#host;
    if (host === undefined) return undefined;
    let data: unknown;
    if (count === undefined) {
      data = this.#readAll(host);
    } else {
      const want = count > 0 ? Math.floor(count) : 0;
      if (want <= 0) return undefined;
      // Within the announcement ask for no more than announced; past it (a stale,
      // low count) ask for what was wanted: the host holds it, less, or nothing.
      const take = this.#available > 0 ? Math.min(want, this.#available) : want;
      try {
        data = host.read(take);
        const got = byteLengthOf(data);
        this.#available = got < this.#available ? this.#available - got : 0;
      } catch {
        // The host holds fewer than `take` (a stale or duplicate count): take all
        // of it, which is then fewer than wanted, so nothing is held back here.
        data = this.#readAll(host);
      }
    }
    if (byteLengthOf(data) === 0) return undefined;
    return new Uint8Array(data as ArrayBuffer);
  }

  /**
   * The bytes the host announced, read into this socket's scratch (ECMA-419
   * `read(buffer)`): a new ArrayBuffer and view per read were garbage on XS
   * for every packet received, a PUBACK a message. The view is the same object
   * while the count repeats. Over SCRATCH_BYTES, with no count announced, or
   * from a host that holds fewer than announced, it is read() instead.
   */
  readScratch(): Uint8Array | undefined {
    const host = this.#host;
    const count = this.#available;
    if (host === undefined || count <= 0 || count > SCRATCH_BYTES) return this.read();
    let view = this.#scratchView;
    if (view === undefined || view.length !== count) {
      this.#scratch ??= new ArrayBuffer(SCRATCH_BYTES);
      view = this.#scratchView = new Uint8Array(this.#scratch, 0, count);
    }
    let got: unknown;
    try {
      got = host.read(view);
    } catch {
      return this.read(); // it holds fewer than announced (a stale count)
    }
    if (got instanceof ArrayBuffer) {
      this.#available = 0;
      return got.byteLength > 0 ? new Uint8Array(got) : undefined; // a host that read all, ignoring the buffer
    }
    if (!Number.isFinite(got)) return this.read(); // a host without read(buffer): nothing was read
    this.#available = 0;
    if ((got as number) <= 0) return undefined;
    return got === count ? view : view.subarray(0, got as number); // TLS hands out what it holds
  }

  #readAll(host: HostSocket): unknown {
    this.#available = 0;
    try {
      return host.read();
    } catch {
      return undefined; // nothing held (a host that throws rather than return undefined)
    }
  }

  write(data: Uint8Array): void {
    const host = this.#host;
    if (host === undefined) throw new MoteError("closed", "socket is closed");
    if (data.byteLength === 0) return;
    if (data.byteLength > this.#budget)
      throw new MoteError("overflow", `write of ${data.byteLength} bytes exceeds the ${this.#budget} the socket accepts now`);
    let left: unknown;
    try {
      left = host.write(data);
    } catch (error) {
      throw new MoteError("overflow", messageOf(error) ?? "would block");
    }
    this.#budget = Number.isFinite(left) ? (left as number) : this.#budget - data.byteLength;
  }

  close(): void {
    const host = this.#host;
    this.#host = undefined;
    this.#handlers = undefined;
    if (host !== undefined) host.close();
  }
}

export interface HostCallbacks {
  onReadable(this: HostSocket, count: number): void;
  onWritable(this: HostSocket, count: number): void;
  onError(this: HostSocket, cause?: unknown): void;
}

/** Connects to `address` (an IP literal; resolve names with dns.ts first). */
export function connectTcp(options: { address: string; port: number; nodelay?: boolean } & StreamHandlers): StreamSocket {
  if (typeof options.address !== "string" || !isIpAddress(options.address))
    throw new MoteError("invalid-argument", "address must be an IP address (resolve host names first)");
  const port = checkPort(options.port, false);
  const stream = new HostStream(options);
  return stream.open(
    (callbacks) =>
      new TCP({
        address: options.address,
        port,
        ...(options.nodelay === undefined ? {} : { nodelay: options.nodelay }),
        ...callbacks,
      }),
  );
}

/** Takes over a connection a listener accepted (listener.ts). */
export function adoptTcp(accepted: AcceptedConnection, handlers: StreamHandlers): StreamSocket {
  const stream = new HostStream(handlers);
  return stream.open((callbacks) => new TCP({ from: accepted as unknown as HostSocket, ...callbacks }));
}
