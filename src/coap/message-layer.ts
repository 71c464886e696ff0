/**
 * The CoAP message layer (RFC 7252 §4), below requests and responses:
 * - message ids: one counter, from a random start (§4.4);
 * - a `Flight` per message we send: a CON is retransmitted after
 *   ACK_TIMEOUT × random(1, ACK_RANDOM_FACTOR), the timeout doubling each time,
 *   at most MAX_RETRANSMIT times (§4.2, §4.8);
 * - `unacked`: the CONs (and NON requests, which may draw an RST, §4.3) we sent
 *   and wait on, by peer + message id (`midKey`);
 * - duplicate detection of incoming CON/NON by (peer, message id) for
 *   EXCHANGE_LIFETIME (§4.5), keeping the reply so a duplicate CON gets the same
 *   answer again, within a byte budget (oldest replies dropped first).
 * It sends nothing itself: `send` and `reply` append "send" actions to `out`.
 */
import { encodeEmpty, encodeMessage, type CoapMessage } from "./codec.js";
import { CON, EXPIRED, RESEND, SEND, WAIT, type ACK, type RST } from "./names.js";
import type { ClientExchange, EndpointAction, Flight, OutgoingCon, Peer, ResolvedOptions } from "./endpoint-types.js";
import { DedupTable } from "./dedup.js";

/**
 * The key of message id `mid` from the peer with id `pid` (peers.ts) in `unacked` and
 * the duplicate table: a number, not a string built per datagram (garbage on XS).
 */
export function midKey(pid: number, mid: number): number {
  return pid * 0x10000 + mid;
}
/** The peer id in a `midKey`. */
export function peerOfMidKey(key: number): number {
  return Math.floor(key / 0x10000);
}
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether an entry of `unacked` is a client exchange (endpoint.ts) or a CON of the server side (server-exchanges.ts). */
export function isClientExchange(o: ClientExchange | OutgoingCon): o is ClientExchange {
  return (o as ClientExchange).spec !== undefined;
}

/** RFC 7252 §5.1, RFC 8132 §2: GET, PUT, DELETE, FETCH and iPATCH are idempotent. */
export function idempotent(method: number): boolean {
  return method === 1 || method === 3 || method === 4 || method === 5 || method === 7;
}

export class MessageLayer {
  /** Unacknowledged messages we sent, by `midKey`: client exchanges and server-side CONs. */
  readonly unacked = new Map<number, ClientExchange | OutgoingCon>();
  readonly #o: ResolvedOptions;
  #nextMid: number;
  /** Messages received lately, for duplicate detection (§4.5). */
  readonly #dedup: DedupTable;

  constructor(o: ResolvedOptions) {
    this.#o = o;
    this.#dedup = new DedupTable(o.maxDedup, o.exchangeLifetimeMs, o.maxDedupBytes);
    this.#nextMid = Math.floor(o.random() * 0x10000) & 0xffff;
  }

  mid(): number {
    const m = this.#nextMid;
    this.#nextMid = (m + 1) & 0xffff;
    return m;
  }

  /** Encodes `message` once; a CON gets its first retransmission deadline (§4.2: random in [ACK_TIMEOUT, ACK_TIMEOUT × ACK_RANDOM_FACTOR]). */
  flight(message: CoapMessage, now: number): Flight {
    const confirmable = message.type === CON;
    const timeoutMs = confirmable ? this.#o.ackTimeoutMs * (1 + this.#o.random() * (this.#o.ackRandomFactor - 1)) : 0;
    return {
      mid: message.messageId,
      wire: encodeMessage(message),
      confirmable,
      retransmits: 0,
      timeoutMs,
      deadline: confirmable ? now + timeoutMs : undefined,
    };
  }

  /**
   * A timer tick for one flight: "resend" (its deadline passed: sent again, the
   * timeout doubled, §4.2), "expired" (MAX_RETRANSMIT reached) or "wait".
   */
  due(f: Flight, now: number): typeof WAIT | typeof RESEND | typeof EXPIRED {
    if (f.deadline === undefined || f.deadline > now) return WAIT;
    if (f.retransmits >= this.#o.maxRetransmit) return EXPIRED;
    f.retransmits++;
    f.timeoutMs *= 2;
    f.deadline = now + f.timeoutMs;
    return RESEND;
  }

  send(peer: Peer, data: Uint8Array, out: EndpointAction[]): void {
    out.push({ type: SEND, peer, data });
  }

  /** Sends `m` and keeps it as the answer to duplicates of the message `dedupKey` names. */
  reply(peer: Peer, m: CoapMessage, dedupKey: number | undefined, out: EndpointAction[]): void {
    const wire = encodeMessage(m);
    if (dedupKey !== undefined) this.#dedup.setReply(dedupKey, wire);
    this.send(peer, wire, out);
  }

  /**
   * reply() of an Empty ACK or RST (the acknowledgement of every CON notification): no
   * message object made, no bytes kept, and its 4 bytes written over the last ones, as the
   * "send" action allows (endpoint-types.ts: a datagram made new per notification was
   * garbage on XS). A duplicate gets bytes of its own (dedup.ts).
   */
  replyEmpty(peer: Peer, type: typeof ACK | typeof RST, mid: number, dedupKey: number | undefined, out: EndpointAction[]): void {
    if (dedupKey !== undefined) this.#dedup.setEmptyReply(dedupKey, type);
    this.send(peer, encodeEmpty(type, mid, this.#emptyBytes), out);
  }

  /** The bytes of the last Empty reply (replyEmpty). */
  readonly #emptyBytes = new Uint8Array(4);

  // -------------------------------------------------------------------------
  // Duplicate detection (§4.5): dedup.ts

  /** Forgets what is older than EXCHANGE_LIFETIME; called at every event. */
  expire(now: number): void {
    this.#dedup.expire(now);
  }

  /** The duplicate table's slot of the message `key` (a `midKey`), or -1 for a new message. */
  seen(key: number): number {
    return this.#dedup.find(key);
  }

  /** Whether the message seen in `slot` is processed again: its reply was dropped, and it is safe to (§5.1). */
  replayable(slot: number): boolean {
    return this.#dedup.replayable(slot);
  }

  /** Sends again the reply kept for the message seen in `slot`, if any (§4.5: a duplicate CON gets the same answer). */
  resend(slot: number, peer: Peer, out: EndpointAction[]): void {
    const r = this.#dedup.reply(slot);
    if (r !== undefined) this.send(peer, r, out);
  }

  forget(slot: number): void {
    this.#dedup.forget(slot);
  }

  remember(key: number, now: number, replayable: boolean): void {
    this.#dedup.remember(key, now, replayable);
  }

  /** Forgets the duplicates of the peer with id `pid` (peers.ts: its id is about to go to another peer). */
  forgetPeer(pid: number): void {
    this.#dedup.forgetPeer(pid, peerOfMidKey);
  }
}
