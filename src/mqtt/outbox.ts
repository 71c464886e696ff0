/**
 * The bytes an MqttClient has to write and the socket has not taken yet: the
 * session's "send" actions, in order, bounded by `ClientOptions.maxWriteBuffer`
 * for QoS 0 (client.ts refuses past it; QoS 1/2 are bounded by the session's
 * window and queue).
 *
 * `take(max)` hands out up to `max` bytes (the socket's write budget), whole
 * packets joined, so a burst of small packets is one socket write. A request
 * attached to a packet is handed to `written` once the packet's last byte was
 * handed out (a QoS 0 publish resolves then), or when the box is dropped with
 * the connection.
 *
 * The packets wait in a ring of two arrays (bytes, request) that only grows,
 * to the most packets ever waiting at once: an entry object per packet, an
 * array that grew and emptied again, and a callback closure per QoS 0 message
 * were garbage on XS.
 */

/** Requests attached to the same packet (rare: a packet normally carries its own message's). */
class Several {
  constructor(readonly refs: unknown[]) {}
}

export class Outbox {
  #data: (Uint8Array | undefined)[] = [];
  /** The request (or Several) attached to each packet, undefined for none. */
  #refs: unknown[] = [];
  readonly #written: (ref: unknown) => void;
  /** Ring index of the oldest packet, and how many wait. */
  #head = 0;
  #count = 0;
  /** Bytes held. */
  bytes = 0;

  /** `written(ref)` is told of each request attached with whenLastWritten(), once its packet is written or dropped. */
  constructor(written: (ref: unknown) => void) {
    this.#written = written;
  }

  get empty(): boolean {
    return this.#count === 0;
  }

  push(data: Uint8Array): void {
    if (this.#count === this.#data.length) this.#grow();
    const i = (this.#head + this.#count) % this.#data.length;
    this.#data[i] = data;
    this.#refs[i] = undefined;
    this.#count++;
    this.bytes += data.length;
  }

  /** Tells `written` of `ref` (not undefined) once the last packet pushed so far is written; false when the box is empty. */
  whenLastWritten(ref: unknown): boolean {
    if (this.#count === 0) return false;
    const i = (this.#head + this.#count - 1) % this.#data.length;
    const before = this.#refs[i];
    if (before === undefined) this.#refs[i] = ref;
    else if (before instanceof Several) before.refs.push(ref);
    else this.#refs[i] = new Several([before, ref]);
    return true;
  }

  #tell(ref: unknown): void {
    if (ref instanceof Several) for (const r of ref.refs) this.#written(r);
    else if (ref !== undefined) this.#written(ref);
  }

  /** Up to `max` bytes from the head, whole packets joined; their callbacks run. */
  take(max: number): Uint8Array {
    const head = this.#data[this.#head]!;
    let out: Uint8Array;
    if (head.length >= max || this.#count === 1) {
      if (head.length <= max) out = this.#shift();
      else {
        out = head.subarray(0, max);
        this.#data[this.#head] = head.subarray(max);
      }
    } else out = this.#join(max);
    this.bytes -= out.length;
    return out;
  }

  /** Several whole packets (at least two fit in `max`) as one array. */
  #join(max: number): Uint8Array {
    const data = this.#data;
    const size = data.length;
    const first = data[this.#head]!;
    let total = 0;
    let count = 0;
    // packets the session wrote one after another into its slab (session-output.ts) are
    // already one run of bytes: a view over them replaces the copy into a new array
    let adjacent = true;
    while (count < this.#count) {
      const d = data[(this.#head + count) % size]!;
      if (total + d.length > max) break;
      if (d.buffer !== first.buffer || d.byteOffset !== first.byteOffset + total) adjacent = false;
      total += d.length;
      count++;
    }
    const joined = adjacent ? new Uint8Array(first.buffer, first.byteOffset, total) : new Uint8Array(total);
    let o = 0;
    for (let i = 0; i < count; i++) {
      const d = this.#shift();
      if (!adjacent) joined.set(d, o);
      o += d.length;
    }
    return joined;
  }

  /** The oldest packet out of the ring; its request is told. */
  #shift(): Uint8Array {
    const d = this.#data[this.#head]!;
    const ref = this.#refs[this.#head];
    this.#shiftQuiet();
    this.#tell(ref);
    return d;
  }

  /** Forgets everything (the connection is gone); the requests are told after. */
  drop(): void {
    const refs: unknown[] = [];
    while (this.#count > 0) {
      const ref = this.#refs[this.#head];
      if (ref !== undefined) refs.push(ref);
      this.#shiftQuiet();
    }
    this.bytes = 0;
    for (const r of refs) this.#tell(r);
  }

  /** The oldest packet out of the ring, its request not told. */
  #shiftQuiet(): void {
    const i = this.#head;
    this.#data[i] = undefined;
    this.#refs[i] = undefined;
    this.#head = (i + 1) % this.#data.length;
    this.#count--;
  }

  /** Twice the room (4 at first), the waiting packets moved to its start in order. */
  #grow(): void {
    const size = this.#data.length;
    const data: (Uint8Array | undefined)[] = new Array(size === 0 ? 4 : size * 2).fill(undefined);
    const refs: unknown[] = new Array(data.length).fill(undefined);
    for (let k = 0; k < this.#count; k++) {
      data[k] = this.#data[(this.#head + k) % size];
      refs[k] = this.#refs[(this.#head + k) % size];
    }
    this.#data = data;
    this.#refs = refs;
    this.#head = 0;
  }
}
