/**
 * The CoAP message layer (RFC 7252 §4), below requests and responses:
 * - message ids: one counter, from a random start (§4.4);
 * - a `Flight` per message we send: a CON is retransmitted after
 *   ACK_TIMEOUT × random(1, ACK_RANDOM_FACTOR), the timeout doubling each time,
 *   at most MAX_RETRANSMIT times (§4.2, §4.8);
 * - `unacked`: the CONs (and NON requests, which may draw an RST, §4.3) we sent
 *   and wait on, by peer + message id;
 * - duplicate detection of incoming CON/NON by (peer, message id) for
 *   EXCHANGE_LIFETIME (§4.5), keeping the reply so a duplicate CON gets the same
 *   answer again, within a byte budget (oldest replies dropped first).
 * It sends nothing itself: `send` and `reply` append "send" actions to `out`.
 */
import { encodeMessage, type CoapMessage } from "./codec.js";
import type { ClientExchange, EndpointAction, Flight, OutgoingCon, Peer, ResolvedOptions } from "./endpoint-types.js";

export function peerKey(p: Peer): string {
  return `${p.port}/${p.address}`;
}
/** The key of a message id from a peer (`peerKey`) in `unacked` and the duplicate table. */
export function midKey(peer: string, mid: number): string {
  return `${peer}|${mid}`;
}
export function tokenKey(peer: string, token: Uint8Array): string {
  let s = peer + "#";
  for (let i = 0; i < token.length; i++) s += (token[i] < 16 ? "0" : "") + token[i].toString(16);
  return s;
}
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
  readonly unacked = new Map<string, ClientExchange | OutgoingCon>();
  readonly #o: ResolvedOptions;
  #nextMid: number;
  readonly #dedup = new Map<string, DedupEntry>();
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
    const confirmable = message.type === "CON";
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
  due(f: Flight, now: number): "wait" | "resend" | "expired" {
    if (f.deadline === undefined || f.deadline > now) return "wait";
    if (f.retransmits >= this.#o.maxRetransmit) return "expired";
    f.retransmits++;
    f.timeoutMs *= 2;
    f.deadline = now + f.timeoutMs;
    return "resend";
  }

  send(peer: Peer, data: Uint8Array, out: EndpointAction[]): void {
    out.push({ type: "send", peer, data });
  }

  /** Sends `m` and keeps it as the answer to duplicates of the message `dedupKey` names. */
  reply(peer: Peer, m: CoapMessage, dedupKey: string | undefined, out: EndpointAction[]): void {
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
    for (const [k, e] of this.#dedup) {
      if (e.expires > now) break; // insertion order = expiry order
      this.forget(k, e);
    }
  }

  seen(key: string): DedupEntry | undefined {
    return this.#dedup.get(key);
  }

  forget(key: string, e: DedupEntry): void {
    if (e.reply !== undefined) this.#dedupBytes -= e.reply.length;
    this.#dedup.delete(key);
  }

  remember(key: string, now: number, replayable: boolean): DedupEntry {
    if (this.#dedup.size >= this.#o.maxDedup) {
      for (const [k, e] of this.#dedup) {
        this.forget(k, e);
        break;
      }
    }
    const e: DedupEntry = { expires: now + this.#o.exchangeLifetimeMs, reply: undefined, evicted: false, replayable };
    this.#dedup.set(key, e);
    return e;
  }

  /** Keeps `wire` as the reply to repeat for duplicates, within maxDedupBytes (oldest replies go first). */
  #store(e: DedupEntry, wire: Uint8Array): void {
    if (e.reply !== undefined) this.#dedupBytes -= e.reply.length;
    e.reply = undefined;
    if (wire.length > this.#o.maxDedupBytes) {
      e.evicted = true;
      return;
    }
    for (const old of this.#dedup.values()) {
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
