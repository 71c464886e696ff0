/**
 * Messages a session holds before they go out: while disconnected, behind a
 * full in-flight window, or behind an older message. Bounded by count and by
 * bytes (payload + topic); when full, `policy` decides: "drop-oldest-qos0"
 * drops the oldest queued QoS 0 message to make room (and refuses the new one
 * only when none is queued), "reject" always refuses the new one.
 */
import type { PublishPacket } from "./packets.js";
import type { QueuePolicy } from "./session-types.js";

export interface Queued {
  message: PublishPacket;
  /** The caller's handle (client.ts), returned in the session's actions. */
  ref: unknown;
  bytes: number;
  /** When the session took it (`now`; 0 for a restored one, which the store already holds): the client's deferred save reads it. */
  at: number;
}

/** Bytes a queued message counts against the byte bound: payload + topic (UTF-16 length as an upper bound of ASCII). */
export function messageBytes(topic: string, payload: Uint8Array): number {
  return payload.length + topic.length;
}

export class OfflineQueue {
  #items: Queued[] = [];
  #bytes = 0;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #policy: QueuePolicy;

  constructor(maxMessages: number, maxBytes: number, policy: QueuePolicy) {
    this.#maxMessages = maxMessages;
    this.#maxBytes = maxBytes;
    this.#policy = policy;
  }

  get length(): number {
    return this.#items.length;
  }

  /** The oldest message, next to go. */
  get head(): Queued | undefined {
    return this.#items[0];
  }

  /** All messages, oldest first (not to be changed). */
  get items(): readonly Queued[] {
    return this.#items;
  }

  /**
   * Adds a message at the tail, making room by the policy; `dropped` hears of
   * each message dropped for it. Returns why it was refused, if it was: larger
   * than the whole queue, or full with no room to make.
   */
  add(message: PublishPacket, ref: unknown, at: number, dropped: (q: Queued) => void): "too-large" | "full" | undefined {
    const bytes = messageBytes(message.topic, message.payload);
    if (bytes > this.#maxBytes) return "too-large";
    while (!this.#fits(bytes)) {
      const i = this.#policy === "drop-oldest-qos0" ? this.#items.findIndex((q) => q.message.qos === 0) : -1;
      if (i < 0) return "full";
      const [d] = this.#items.splice(i, 1);
      this.#bytes -= d.bytes;
      dropped(d);
    }
    this.#push({ message, ref, bytes, at });
    return undefined;
  }

  /** Adds a message at the tail only if it fits as things are (a restored snapshot); false when not. */
  addIfRoom(message: PublishPacket): boolean {
    const bytes = messageBytes(message.topic, message.payload);
    if (!this.#fits(bytes)) return false;
    this.#push({ message, ref: undefined, bytes, at: 0 });
    return true;
  }

  /** Puts messages back at the head, in order (in-flight messages the server has forgotten). */
  addFirst(items: Queued[]): void {
    for (const q of items) this.#bytes += q.bytes;
    this.#items.unshift(...items);
  }

  /** Takes the head. */
  shift(): Queued | undefined {
    const q = this.#items.shift();
    if (q !== undefined) this.#bytes -= q.bytes;
    return q;
  }

  /** Keeps only the messages `keep` returns a replacement for. */
  filter(keep: (q: Queued) => Queued | undefined): void {
    const kept: Queued[] = [];
    let bytes = 0;
    for (const q of this.#items) {
      const k = keep(q);
      if (k !== undefined) {
        kept.push(k);
        bytes += k.bytes;
      }
    }
    this.#items = kept;
    this.#bytes = bytes;
  }

  clear(): void {
    this.#items = [];
    this.#bytes = 0;
  }

  #fits(bytes: number): boolean {
    return this.#items.length < this.#maxMessages && this.#bytes + bytes <= this.#maxBytes;
  }

  #push(q: Queued): void {
    this.#items.push(q);
    this.#bytes += q.bytes;
  }
}
