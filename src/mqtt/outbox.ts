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
 */
interface Entry {
  data: Uint8Array;
  done: (() => void) | undefined;
}

export class Outbox {
  #entries: Entry[] = [];
  /** Bytes held. */
  bytes = 0;

  get empty(): boolean {
    return this.#entries.length === 0;
  }

  push(data: Uint8Array): void {
    this.#entries.push({ data, done: undefined });
    this.bytes += data.length;
  }

  /** Runs `done` once the last packet pushed so far is written; false when the box is empty. */
  whenLastWritten(done: () => void): boolean {
    const last = this.#entries[this.#entries.length - 1];
    if (last === undefined) return false;
    const before = last.done;
    last.done = before ? () => (before(), done()) : done;
    return true;
  }

  /** Up to `max` bytes from the head, whole packets joined; their callbacks run. */
  take(max: number): Uint8Array {
    const entries = this.#entries;
    const head = entries[0];
    let out: Uint8Array;
    if (head.data.length >= max || entries.length === 1) {
      const n = Math.min(head.data.length, max);
      if (n === head.data.length) {
        entries.shift();
        head.done?.();
        out = head.data;
      } else {
        out = head.data.subarray(0, n);
        head.data = head.data.subarray(n);
      }
    } else out = this.#join(max);
    this.bytes -= out.length;
    return out;
  }

  /** Several whole packets (at least two fit in `max`) as one array. */
  #join(max: number): Uint8Array {
    const entries = this.#entries;
    const first = entries[0].data;
    let total = 0;
    let count = 0;
    // packets the session wrote one after another into its slab (session.ts #encode) are
    // already one run of bytes: a view over them replaces the copy into a new array
    let adjacent = true;
    while (count < entries.length && total + entries[count].data.length <= max) {
      const d = entries[count].data;
      if (d.buffer !== first.buffer || d.byteOffset !== first.byteOffset + total) adjacent = false;
      total += d.length;
      count++;
    }
    const joined = adjacent ? new Uint8Array(first.buffer, first.byteOffset, total) : new Uint8Array(total);
    let o = 0;
    for (let i = 0; i < count; i++) {
      const e = entries.shift()!;
      if (!adjacent) joined.set(e.data, o);
      o += e.data.length;
      e.done?.();
    }
    return joined;
  }

  /** Forgets everything (the connection is gone); the callbacks run. */
  drop(): void {
    const entries = this.#entries;
    this.#entries = [];
    this.bytes = 0;
    for (const e of entries) e.done?.();
  }
}
