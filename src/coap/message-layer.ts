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
import { encodeMessage, type CoapMessage } from "./codec.js";
import { CON, EXPIRED, RESEND, SEND, WAIT } from "./names.js";
import type { ClientExchange, EndpointAction, Flight, OutgoingCon, Peer, ResolvedOptions } from "./endpoint-types.js";

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

export interface DedupEntry {
  expires: number;
  reply: Uint8Array | undefined;
  /** The stored reply was dropped to stay within maxDedupBytes. */
  evicted: boolean;
  /** The request may be processed again if its reply was dropped (§5.1: safe/idempotent methods). */
  replayable: boolean;
}

export class MessageLayer {
  /** Unacknowledged messages we sent, by `midKey`: client exchanges and server-side CONs. */
  readonly unacked = new Map<number, ClientExchange | OutgoingCon>();
  readonly #o: ResolvedOptions;
  #nextMid: number;
  readonly #dedup = new Map<number, DedupEntry>();
  /** No entry of `#dedup` expires before this (it may expire later: the walk then looks again). */
  #expiresFrom = Infinity;
  #dedupBytes = 0;

  constructor(o: ResolvedOptions) {
    this.#o = o;
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
    if (dedupKey !== undefined) {
      const e = this.#dedup.get(dedupKey);
      if (e !== undefined) this.#store(e, wire);
    }
    this.send(peer, wire, out);
  }

  // -------------------------------------------------------------------------
  // Duplicate detection (§4.5)

  /** Forgets what is older than EXCHANGE_LIFETIME; called at every event. */
  expire(now: number): void {
    // Most events find nothing expired: they skip the walk (its iterator is garbage on XS).
    if (this.#expiresFrom > now) return;
    this.#expiresFrom = Infinity;
    for (const [k, e] of this.#dedup) {
      if (e.expires > now) {
        this.#expiresFrom = e.expires; // insertion order = expiry order
        break;
      }
      this.forget(k, e);
    }
  }

  seen(key: number): DedupEntry | undefined {
    return this.#dedup.get(key);
  }

  forget(key: number, e: DedupEntry): void {
    if (e.reply !== undefined) this.#dedupBytes -= e.reply.length;
    this.#dedup.delete(key);
  }

  remember(key: number, now: number, replayable: boolean): DedupEntry {
    if (this.#dedup.size >= this.#o.maxDedup) {
      for (const [k, e] of this.#dedup) {
        this.forget(k, e);
        break;
      }
    }
    const e: DedupEntry = { expires: now + this.#o.exchangeLifetimeMs, reply: undefined, evicted: false, replayable };
    this.#dedup.set(key, e);
    if (e.expires < this.#expiresFrom) this.#expiresFrom = e.expires;
    return e;
  }

  /** Forgets the duplicates of the peer with id `pid` (peers.ts: its id is about to go to another peer). */
  forgetPeer(pid: number): void {
    for (const [k, e] of [...this.#dedup]) if (peerOfMidKey(k) === pid) this.forget(k, e);
  }

  /** Keeps `wire` as the reply to repeat for duplicates, within maxDedupBytes (oldest replies go first). */
  #store(e: DedupEntry, wire: Uint8Array): void {
    if (e.reply !== undefined) this.#dedupBytes -= e.reply.length;
    e.reply = undefined;
    if (wire.length > this.#o.maxDedupBytes) {
      e.evicted = true;
      return;
    }
    // Within the budget (the usual case) nothing is walked.
    if (this.#dedupBytes + wire.length > this.#o.maxDedupBytes) for (const old of this.#dedup.values()) {
      if (this.#dedupBytes + wire.length <= this.#o.maxDedupBytes) break;
      if (old.reply === undefined) continue;
      this.#dedupBytes -= old.reply.length;
      old.reply = undefined;
      old.evicted = true;
    }
    e.reply = wire;
    this.#dedupBytes += wire.length;
  }
}
