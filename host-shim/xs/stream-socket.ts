/**
 * XS side: an ECMA-419 stream socket (TCP, TLS) over the remote Node twin,
 * with the receive buffer kept here in XS.
 *
 * Why: host callbacks reach XS asynchronously (queued, batched), so the count
 * in a remote onReadable(count) can be stale by the time XS runs it — bytes
 * may have arrived since, or already been read by an earlier callback — and
 * `read(count)` on the twin would then throw. Here every onReadable pulls what
 * the twin holds now (one round trip, all of it) into a local queue and tells
 * the application the local count, which is exact; `read()` is served from the
 * queue without a round trip. The local queue is bounded (`LOCAL_LIMIT`): past
 * it nothing more is pulled until the application reads, so the twin's own
 * buffer fills and pauses the peer through TCP flow control, as on the device.
 * onError is delivered after the local queue is drained (as lwip does).
 */

/** Bytes held in XS before pulling stops (the twin holds more and pushes back on the peer). */
export const LOCAL_LIMIT = 64 * 1024;

type Callback = ((this: unknown, ...args: unknown[]) => void) | undefined;

interface RemoteSocket {
  read(count?: number): ArrayBuffer | undefined;
  write(data: ArrayBuffer | ArrayBufferView): number | undefined;
  close(): void;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
}

export function streamSocketClass(Remote: unknown): unknown {
  if (typeof Remote !== "function") return Remote; // the module is unavailable: keep its throwing proxy
  const RemoteClass = Remote as new (options: Record<string, unknown>) => RemoteSocket;

  return class StreamSocket {
    #remote: RemoteSocket | undefined;
    #chunks: Uint8Array[] = [];
    #offset = 0;
    #buffered = 0;
    /** The twin announced bytes we did not pull (local queue full). */
    #remoteHasMore = false;
    #error: { value: unknown } | undefined;
    #closed = false;
    #onReadable: Callback;
    #onWritable: Callback;
    #onError: Callback;

    constructor(options: Record<string, unknown>) {
      this.#onReadable = options.onReadable as Callback;
      this.#onWritable = options.onWritable as Callback;
      this.#onError = options.onError as Callback;
      const self = this;
      const forwarded: Record<string, unknown> = { ...options };
      // Every host socket gets all three: the local queue needs onReadable even
      // when the application only writes.
      forwarded.onReadable = () => self.#readable();
      forwarded.onWritable = (count: number) => {
        if (!self.#closed) self.#onWritable?.call(self, count);
      };
      forwarded.onError = (error: unknown) => self.#failed(error);
      this.#remote = new RemoteClass(forwarded);
    }

    get remoteAddress(): string | undefined {
      return this.#remote?.remoteAddress;
    }
    get remotePort(): number | undefined {
      return this.#remote?.remotePort;
    }
    get format(): string {
      return "buffer";
    }

    #pull(): void {
      const remote = this.#remote;
      if (remote === undefined || this.#buffered >= LOCAL_LIMIT) {
        this.#remoteHasMore = remote !== undefined;
        return;
      }
      this.#remoteHasMore = false;
      const data = remote.read();
      if (data === undefined || data.byteLength === 0) return;
      this.#chunks.push(new Uint8Array(data));
      this.#buffered += data.byteLength;
    }

    #readable(): void {
      if (this.#closed) return;
      this.#pull();
      if (this.#buffered > 0) this.#onReadable?.call(this, this.#buffered);
    }

    #failed(error: unknown): void {
      if (this.#closed || this.#error !== undefined) return;
      this.#error = { value: error };
      if (this.#buffered === 0) this.#deliverError();
    }

    #deliverError(): void {
      const error = this.#error;
      if (error === undefined || this.#closed) return;
      // The twin's connection has ended: close it now. The application's close()
      // after onError finds no remote, so without this the twin stayed open on the
      // Node side and its three callbacks in the bridge's tables for the life of
      // the engine (~900 slots per dropped link in the chaos soak).
      const remote = this.#remote;
      this.#remote = undefined;
      try {
        remote?.close();
      } catch {
        // a twin that refuses a second close has nothing left to free
      }
      this.#onError?.call(this, error.value);
    }

    /**
     * Up to `count` bytes (default: all held), or undefined when none. Given an
     * ArrayBuffer or view, fills the whole of it and returns its length, as
     * Moddable's sockets do (modules/io/socket/lwip/tcp.c): "invalid" when fewer are held.
     */
    read(count?: number | ArrayBuffer | ArrayBufferView): ArrayBuffer | number | undefined {
      if (this.#closed) throw new Error("closed");
      if (this.#buffered === 0 && this.#remoteHasMore) this.#pull();
      if (this.#buffered === 0) return undefined;
      const into =
        count instanceof ArrayBuffer ? new Uint8Array(count) : ArrayBuffer.isView(count) ? new Uint8Array(count.buffer, count.byteOffset, count.byteLength) : undefined;
      if (into !== undefined && (into.byteLength === 0 || into.byteLength > this.#buffered)) throw new Error("invalid");
      let want = into !== undefined ? into.byteLength : count === undefined ? this.#buffered : Math.floor(Number(count));
      if (!(want > 0)) return undefined;
      if (want > this.#buffered) want = this.#buffered;
      let out: Uint8Array;
      const head = this.#chunks[0];
      if (into !== undefined) out = this.#fill(into);
      else if (this.#offset === 0 && head.byteLength === want) {
        out = head; // the common case: hand over the pulled buffer as it is
        this.#chunks.shift();
      } else out = this.#fill(new Uint8Array(want));
      this.#buffered -= want;
      if (this.#buffered < LOCAL_LIMIT / 2 && this.#remoteHasMore && this.#error === undefined) {
        // Room again: fetch what the twin held back, and say so once the caller returns.
        Promise.resolve().then(() => this.#readable());
      }
      if (this.#buffered === 0 && this.#error !== undefined) Promise.resolve().then(() => this.#deliverError());
      if (into !== undefined) return want;
      return out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? (out.buffer as ArrayBuffer) : (out.slice().buffer as ArrayBuffer);
    }

    /** Fills all of `out` from the pieces held, in order. */
    #fill(out: Uint8Array): Uint8Array {
      let filled = 0;
      while (filled < out.length) {
        const c = this.#chunks[0];
        const take = Math.min(c.byteLength - this.#offset, out.length - filled);
        out.set(c.subarray(this.#offset, this.#offset + take), filled);
        filled += take;
        this.#offset += take;
        if (this.#offset === c.byteLength) {
          this.#chunks.shift();
          this.#offset = 0;
        }
      }
      return out;
    }

    write(data: ArrayBuffer | ArrayBufferView): number | undefined {
      if (this.#closed) throw new Error("closed");
      const remote = this.#remote;
      if (remote === undefined) return 0;
      return remote.write(data);
    }

    close(): void {
      if (this.#closed) return;
      this.#closed = true;
      this.#chunks = [];
      this.#buffered = 0;
      this.#onReadable = this.#onWritable = this.#onError = undefined;
      const remote = this.#remote;
      this.#remote = undefined;
      remote?.close();
    }
  };
}
