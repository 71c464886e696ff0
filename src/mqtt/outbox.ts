/**
 * The bytes an MqttClient has to write and the socket has not taken yet: the
 * session's "send" actions, in order, bounded by `ClientOptions.maxWriteBuffer`
 * for QoS 0 (client.ts refuses past it; QoS 1/2 are bounded by the session's
 * window and queue).
 *
 * `take(max)` hands out up to `max` bytes (the socket's write budget), whole
 * packets joined, so a burst of small packets is one socket write. A callback
 * attached to a packet runs once its last byte was handed out (a QoS 0 publish
 * resolves then), or when the box is dropped with the connection.
 *
 * The packets wait in a ring of two arrays (bytes, callback) that only grows,
 * to the most packets ever waiting at once: an entry object per packet and an
 * array that grew and emptied again with every message were garbage on XS.
 */
type Done = (() => void) | undefined;

export class Outbox {
  #data: (Uint8Array | undefined)[] = [];
  #done: Done[] = [];
  /** Ring index of the oldest packet, and how many wait. */
  #head = 0;
  #count = 0;
  /** Bytes held. */
  bytes = 0;

  get empty(): boolean {
    return this.#count === 0;
  }

  push(data: Uint8Array): void {
    if (this.#count === this.#data.length) this.#grow();
    const i = (this.#head + this.#count) % this.#data.length;
    this.#data[i] = data;
    this.#done[i] = undefined;
    this.#count++;
    this.bytes += data.length;
  }

  /** Runs `done` once the last packet pushed so far is written; false when the box is empty. */
  whenLastWritten(done: () => void): boolean {
    if (this.#count === 0) return false;
    const i = (this.#head + this.#count - 1) % this.#data.length;
    const before = this.#done[i];
    this.#done[i] = before ? () => (before(), done()) : done;
    return true;
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

  /** The oldest packet out of the ring; its callback runs. */
  #shift(): Uint8Array {
    const d = this.#data[this.#head]!;
    const done = this.#done[this.#head];
    this.#shiftQuiet();
    done?.();
    return d;
  }

  /** Forgets everything (the connection is gone); the callbacks run. */
  drop(): void {
    const dones: (() => void)[] = [];
    while (this.#count > 0) {
      const done = this.#done[this.#head];
      if (done) dones.push(done);
      this.#shiftQuiet();
    }
    this.bytes = 0;
    for (const f of dones) f();
  }

  /** The oldest packet out of the ring, its callback not run. */
  #shiftQuiet(): void {
    const i = this.#head;
    this.#data[i] = undefined;
    this.#done[i] = undefined;
    this.#head = (i + 1) % this.#data.length;
    this.#count--;
  }

  /** Twice the room (4 at first), the waiting packets moved to its start in order. */
  #grow(): void {
    const size = this.#data.length;
    const data: (Uint8Array | undefined)[] = new Array(size === 0 ? 4 : size * 2).fill(undefined);
    const done: Done[] = new Array(data.length).fill(undefined);
    for (let k = 0; k < this.#count; k++) {
      data[k] = this.#data[(this.#head + k) % size];
      done[k] = this.#done[(this.#head + k) % size];
    }
    this.#data = data;
    this.#done = done;
    this.#head = 0;
  }
}
