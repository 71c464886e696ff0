/**
 * A bounded FIFO of byte chunks waiting for send space (ECMA-419 onWritable
 * budget). Pure: no sockets, no timers.
 *
 * - `push(data)` appends a view (not a copy: the caller must not change the
 *   bytes until they are sent) and says whether the queue is still below its
 *   high-water mark — `false` asks the writer to wait for the drain signal.
 * - Past `limitBytes` a push is refused with NetError("overflow"): a writer
 *   that ignores `false` cannot grow memory without bound.
 * - `take(budget)` hands out at most `budget` bytes, splitting a chunk if
 *   needed (a subarray view, no copy).
 */
import { NetError } from "./errors.js";

export class WriteQueue {
  readonly highWaterMark: number;
  readonly limitBytes: number;
  #chunks: Uint8Array[] = [];
  #head = 0; // index of the first live chunk in #chunks
  #bytes = 0;

  constructor(highWaterMark: number, limitBytes: number) {
    if (!(highWaterMark > 0) || !(limitBytes >= highWaterMark))
      throw new NetError("invalid-argument", "need 0 < highWaterMark <= limitBytes");
    this.highWaterMark = highWaterMark;
    this.limitBytes = limitBytes;
  }

  /** Bytes waiting. */
  get size(): number {
    return this.#bytes;
  }

  get isEmpty(): boolean {
    return this.#bytes === 0;
  }

  /** Appends `data`; returns whether the queue is below its high-water mark afterwards. */
  push(data: Uint8Array): boolean {
    if (this.#bytes + data.byteLength > this.limitBytes)
      throw new NetError("overflow", `write queue limit of ${this.limitBytes} bytes reached`);
    if (data.byteLength > 0) {
      this.#chunks.push(data);
      this.#bytes += data.byteLength;
    }
    return this.#bytes < this.highWaterMark;
  }

  /** Removes and returns up to `budget` bytes from the front (a view), or undefined. */
  take(budget: number): Uint8Array | undefined {
    if (this.#bytes === 0 || budget <= 0) return undefined;
    const chunk = this.#chunks[this.#head];
    let out: Uint8Array;
    if (chunk.byteLength <= budget) {
      out = chunk;
      this.#head++;
      if (this.#head > 32 && this.#head * 2 > this.#chunks.length) {
        this.#chunks = this.#chunks.slice(this.#head);
        this.#head = 0;
      }
    } else {
      out = chunk.subarray(0, budget);
      this.#chunks[this.#head] = chunk.subarray(budget);
    }
    this.#bytes -= out.byteLength;
    if (this.#bytes === 0) {
      this.#chunks = [];
      this.#head = 0;
    }
    return out;
  }

  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#bytes = 0;
  }
}
