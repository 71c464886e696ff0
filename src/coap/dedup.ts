/**
 * Duplicate detection (RFC 7252 §4.5): the CON and NON messages received in the
 * last EXCHANGE_LIFETIME (§4.8.2), by peer and message id (`midKey`), each with
 * the reply a duplicate CON gets again. At most `max` messages; the oldest go
 * first when it is full, and when they expire.
 *
 * Compact, because a device fills it: an observed resource notifying once a
 * second fills 256 entries in four minutes and keeps them full. An entry is a
 * number in each of three typed arrays (key, expiry, flags) and two in an index
 * from key to slot (open addressing, linear probing, at most half full): 21 bytes
 * and no object, where an object per entry with the bytes of its Empty ACK and a
 * Map entry were ~20 slots (~80 KB for 256 on the ESP32, most of the chip's
 * heap), and a Map set and delete per message were garbage. An Empty ACK or RST
 * reply is a flag, made again for a duplicate; other replies (a server's
 * piggybacked responses) are kept as bytes, within `maxReplyBytes`, the oldest
 * dropped first.
 *
 * Slots are taken in a ring in the order messages come, which is their expiry
 * order; the ring grows (doubling) to `max`. A message forgotten out of turn
 * (processed again, or its peer forgotten) leaves its slot dead until its turn.
 */
import { encodeEmpty } from "./codec.js";
import { ACK, RST } from "./names.js";

const LIVE = 1;
const REPLAYABLE = 2;
/** Its reply was dropped to stay within maxReplyBytes. */
const EVICTED = 4;
const EMPTY_ACK = 8;
const EMPTY_RST = 16;

export class DedupTable {
  readonly #max: number;
  readonly #lifetimeMs: number;
  readonly #maxReplyBytes: number;
  /** The live entries' slot + 1 (0: empty) at their key's hash or after it (linear probing); twice the slots, a power of two. */
  #index = new Int32Array(0);
  #live = 0;
  #keys = new Uint32Array(0); // a midKey is below 2^32 (peer ids below 2^16)
  #expires = new Float64Array(0);
  #flags = new Uint8Array(0);
  /** Replies kept as bytes, by slot. */
  readonly #replies = new Map<number, Uint8Array>();
  #replyBytes = 0;
  #head = 0;
  #count = 0;
  /** No entry expires before this (it may later: expire() then looks again). */
  #expiresFrom = Infinity;

  constructor(max: number, lifetimeMs: number, maxReplyBytes: number) {
    this.#max = max;
    this.#lifetimeMs = lifetimeMs;
    this.#maxReplyBytes = maxReplyBytes;
  }

  /** Messages remembered (live). */
  get size(): number {
    return this.#live;
  }

  /** The slot of `key`, or -1. */
  find(key: number): number {
    const index = this.#index;
    if (index.length === 0) return -1;
    const mask = index.length - 1;
    for (let i = hashOf(key, mask); ; i = (i + 1) & mask) {
      const v = index[i];
      if (v === 0) return -1;
      if (this.#keys[v - 1] === key) return v - 1;
    }
  }

  /** Whether the message in `slot` is to be processed again: its reply was dropped and processing it twice is safe (§5.1). */
  replayable(slot: number): boolean {
    return (this.#flags[slot] & (REPLAYABLE | EVICTED)) === (REPLAYABLE | EVICTED);
  }

  /** The reply to send again for a duplicate of the message in `slot`, if one was kept. */
  reply(slot: number): Uint8Array | undefined {
    const f = this.#flags[slot];
    if (f & (EMPTY_ACK | EMPTY_RST)) return encodeEmpty(f & EMPTY_ACK ? ACK : RST, this.#keys[slot] % 0x10000);
    return this.#replies.get(slot);
  }

  /** Remembers the message `key` until `now` + EXCHANGE_LIFETIME (in place of what was remembered under it). */
  remember(key: number, now: number, replayable: boolean): void {
    const old = this.find(key);
    if (old >= 0) this.forget(old);
    if (this.#count >= this.#max) this.#shift();
    if (this.#count === this.#keys.length) this.#grow();
    const slot = (this.#head + this.#count) % this.#keys.length;
    this.#count++;
    this.#keys[slot] = key;
    const expires = now + this.#lifetimeMs;
    this.#expires[slot] = expires;
    this.#flags[slot] = replayable ? LIVE | REPLAYABLE : LIVE;
    this.#insert(key, slot);
    this.#live++;
    if (expires < this.#expiresFrom) this.#expiresFrom = expires;
  }

  /** The reply of the message `key` is an Empty ACK or RST (no bytes kept). */
  setEmptyReply(key: number, type: typeof ACK | typeof RST): void {
    const slot = this.find(key);
    if (slot < 0) return;
    this.#dropReply(slot);
    this.#flags[slot] = (this.#flags[slot] & ~(EMPTY_ACK | EMPTY_RST)) | (type === ACK ? EMPTY_ACK : EMPTY_RST);
  }

  /** The reply of the message `key` is `wire`: kept within maxReplyBytes, the oldest replies dropped first. */
  setReply(key: number, wire: Uint8Array): void {
    const slot = this.find(key);
    if (slot < 0) return;
    this.#dropReply(slot);
    const flags = this.#flags;
    flags[slot] &= ~(EMPTY_ACK | EMPTY_RST);
    if (wire.length > this.#maxReplyBytes) {
      flags[slot] |= EVICTED;
      return;
    }
    // Within the budget (the usual case) nothing is walked.
    const size = this.#keys.length;
    for (let i = 0; i < this.#count && this.#replyBytes + wire.length > this.#maxReplyBytes; i++) {
      const s = (this.#head + i) % size;
      if (this.#dropReply(s)) flags[s] |= EVICTED;
    }
    this.#replies.set(slot, wire);
    this.#replyBytes += wire.length;
  }

  /** Forgets the message in `slot` (it is to be processed again). */
  forget(slot: number): void {
    if (!(this.#flags[slot] & LIVE)) return;
    this.#flags[slot] = 0;
    this.#remove(slot);
    this.#live--;
    this.#dropReply(slot);
  }

  #insert(key: number, slot: number): void {
    const index = this.#index;
    const mask = index.length - 1;
    let i = hashOf(key, mask);
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = slot + 1;
  }

  /** Takes `slot` out of the index, moving back the entries after it that its place would hide (no tombstones). */
  #remove(slot: number): void {
    const index = this.#index;
    const mask = index.length - 1;
    let i = hashOf(this.#keys[slot], mask);
    while (index[i] !== slot + 1) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; index[j] !== 0; j = (j + 1) & mask) {
      const home = hashOf(this.#keys[index[j] - 1], mask);
      // the entry at j stays unless its home lies cyclically outside (i, j]: then i would hide it
      const stays = i < j ? home > i && home <= j : home > i || home <= j;
      if (!stays) {
        index[i] = index[j];
        i = j;
      }
    }
    index[i] = 0;
  }

  /** Forgets the messages older than EXCHANGE_LIFETIME; most calls find none and return at once. */
  expire(now: number): void {
    if (this.#expiresFrom > now) return;
    while (this.#count > 0 && this.#expires[this.#head] <= now) this.#shift();
    this.#expiresFrom = this.#count > 0 ? this.#expires[this.#head] : Infinity;
  }

  /** Forgets the messages for which `peerOf(key)` is `pid` (a peer's id about to go to another peer). */
  forgetPeer(pid: number, peerOf: (key: number) => number): void {
    const size = this.#keys.length;
    for (let i = 0; i < this.#count; i++) {
      const s = (this.#head + i) % size;
      if (this.#flags[s] & LIVE && peerOf(this.#keys[s]) === pid) this.forget(s);
    }
  }

  /** The oldest slot out of the ring, its message forgotten. */
  #shift(): void {
    this.forget(this.#head);
    this.#head = (this.#head + 1) % this.#keys.length;
    this.#count--;
  }

  /** True if `slot` had a reply kept as bytes, now dropped. */
  #dropReply(slot: number): boolean {
    const r = this.#replies.get(slot);
    if (r === undefined) return false;
    this.#replies.delete(slot);
    this.#replyBytes -= r.length;
    return true;
  }

  /** Twice the slots (4 at first, `max` at most), the entries moved to the start in order, the indexes made again. */
  #grow(): void {
    const size = this.#keys.length;
    const grown = Math.max(4, Math.min(size * 2, this.#max));
    const keys = new Uint32Array(grown);
    const expires = new Float64Array(grown);
    const flags = new Uint8Array(grown);
    const replies: [number, Uint8Array][] = [];
    for (let i = 0; i < this.#count; i++) {
      const s = (this.#head + i) % size;
      keys[i] = this.#keys[s];
      expires[i] = this.#expires[s];
      flags[i] = this.#flags[s];
      const r = this.#replies.get(s);
      if (r !== undefined) replies.push([i, r]);
    }
    this.#replies.clear();
    for (const [i, r] of replies) this.#replies.set(i, r);
    this.#keys = keys;
    this.#expires = expires;
    this.#flags = flags;
    this.#head = 0;
    let length = 8;
    while (length < 2 * grown) length *= 2;
    this.#index = new Int32Array(length);
    for (let i = 0; i < this.#count; i++) if (flags[i] & LIVE) this.#insert(keys[i], i);
  }
}

/** A key's home in an index of `mask` + 1 entries (Fibonacci hashing: message ids in a row spread out). */
function hashOf(key: number, mask: number): number {
  const h = Math.imul(key, 0x9e3779b1);
  return (h ^ (h >>> 16)) & mask;
}
