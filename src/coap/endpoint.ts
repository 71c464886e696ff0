/**
 * CoAP endpoint core: message layer + request/response exchanges, sans-I/O.
 *
 * Theory of operation
 * - One `CoapEndpoint` serves one UDP socket, as client and as server. It is
 *   fed `handle(event, now)` — a datagram, a timer tick, an application call —
 *   and returns `Action[]`: datagrams to send and deliveries to the
 *   application. `nextDeadline()` says when it wants the next timer event.
 *   There is no clock, socket or timer in here; randomness is an option.
 * - Message layer (RFC 7252 §4): every CON we send is retransmitted after
 *   ACK_TIMEOUT × random(1, ACK_RANDOM_FACTOR), doubling, at most
 *   MAX_RETRANSMIT times (§4.2, §4.8). Incoming CON/NON are de-duplicated by
 *   (peer, message id) for EXCHANGE_LIFETIME (§4.5) and a duplicate CON gets
 *   the same reply again. A CON that cannot be parsed gets RST (§4.2).
 * - Client exchanges (§5.2, §5.3): matched by token. A piggybacked response
 *   arrives in the ACK; an empty ACK means a separate response will follow as
 *   its own CON, which we ACK. At most NSTART exchanges per peer are
 *   outstanding (§4.7); more wait in a bounded queue.
 * - Observe (RFC 7641): a registration stays alive after its first response;
 *   notifications are delivered only if fresh (§3.4); when Max-Age passes
 *   without one, the client registers again with the same token (§3.3.1),
 *   which also recovers from a server that restarted and forgot us.
 *   Cancelling sends GET with Observe=1 (§3.6); notifications for tokens we
 *   no longer know are answered with RST.
 * - Block-wise (RFC 7959): a Block2 response is delivered block by block
 *   (`stream`) or assembled up to `maxBodyBytes`; Block1 uploads are read
 *   from a source one block at a time, follow 2.31 Continue and the server's
 *   block size, and restart smaller after 4.13 (§2.9.3).
 * - Server side: a request becomes an `incoming` action; the application
 *   answers with a `respond` event. If it answers within `piggybackWindowMs`
 *   the response rides in the ACK; otherwise we send an empty ACK first and a
 *   separate response later (§5.2.2). Server notifications are sent with the
 *   `notify` event; an RST or a timed-out CON notification reports
 *   `observer-gone` (RFC 7641 §3.6, §4.5).
 */
import {
  CoapFormatError,
  Option,
  ResponseCode,
  blockSize,
  codeClass,
  decodeMessage,
  emptyMessage,
  encodeBlock,
  encodeMessage,
  encodeUint,
  findOption,
  optionBlock,
  optionUint,
  withoutOption,
  type CoapMessage,
  type CoapOption,
  type CoapType,
} from "./codec.js";

// ---------------------------------------------------------------------------
// Events and actions

export interface Peer {
  readonly address: string;
  readonly port: number;
}

/** A streamed upload body (RFC 7959 Block1): `read` returns exactly `length` bytes, fewer only at the end. */
export interface UploadSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

export interface RequestSpec {
  /** Method code (`Method.GET` ...). */
  method: number;
  /** Uri-Path, Uri-Query, Content-Format, Accept ... (no Block/Observe: the endpoint sets those). */
  options?: CoapOption[];
  payload?: Uint8Array | UploadSource;
  /** CON (default) or NON (§2.2). */
  confirmable?: boolean;
  /** Register as an observer (RFC 7641). */
  observe?: boolean;
  /** Deliver a Block2 body block by block instead of assembling it. */
  stream?: boolean;
  /** Preferred block size (16..1024) for Block1 and early Block2 negotiation. */
  blockSize?: number;
  /** Token to use instead of a random one (0–8 bytes). */
  token?: Uint8Array;
  /**
   * Start a Block2 download at this byte offset (RFC 7959 §2.4: any block may be
   * asked for). A multiple of `blockSize` (default 1024); for resuming a transfer.
   */
  offset?: number;
}

export interface ResponseSpec {
  code: number;
  options?: CoapOption[];
  payload?: Uint8Array;
}

export type EndpointEvent =
  | { type: "datagram"; peer: Peer; data: Uint8Array }
  | { type: "timer" }
  | { type: "request"; id: number; peer: Peer; request: RequestSpec }
  | { type: "ping"; id: number; peer: Peer }
  | { type: "cancel"; id: number; passive?: boolean }
  | { type: "respond"; exchange: number; response: ResponseSpec }
  | { type: "notify"; peer: Peer; token: Uint8Array; response: ResponseSpec; confirmable: boolean };

export type ExchangeFailure =
  | "timeout" // no ACK after MAX_RETRANSMIT, or no response in time
  | "reset" // the peer answered RST
  | "cancelled"
  | "queue-full" // NSTART queue or exchange table full
  | "too-large" // assembled body over maxBodyBytes
  | "block-mismatch" // the server broke the block sequence or changed the ETag
  | "bad-response"; // the response could not be accepted (unknown critical option ...)

export type EndpointAction =
  | { type: "send"; peer: Peer; data: Uint8Array }
  /** The final response of a client exchange (body assembled unless `stream`). */
  | { type: "response"; id: number; response: CoapMessage }
  /** One Block2 block of a streamed body; `offset` is its position in the body. */
  | { type: "block"; id: number; offset: number; data: Uint8Array; more: boolean; response: CoapMessage }
  /** A fresh Observe notification (the registration response included). */
  | { type: "notification"; id: number; response: CoapMessage }
  | { type: "failed"; id: number; code: ExchangeFailure }
  | { type: "pong"; id: number }
  /** Server side: a request to answer with a `respond` event. */
  | { type: "incoming"; exchange: number; peer: Peer; request: CoapMessage }
  /** Server side: an observer answered RST or stopped acknowledging (RFC 7641 §3.6, §4.5). */
  | { type: "observer-gone"; peer: Peer; token: Uint8Array };

export interface EndpointOptions {
  /** §4.8 ACK_TIMEOUT, ms (default 2000). */
  ackTimeoutMs?: number;
  /** §4.8 ACK_RANDOM_FACTOR (default 1.5). */
  ackRandomFactor?: number;
  /** §4.8 MAX_RETRANSMIT (default 4). */
  maxRetransmit?: number;
  /** §4.7 NSTART: outstanding exchanges per peer (default 1). */
  nstart?: number;
  /** Requests waiting for an NSTART slot; beyond it a request fails "queue-full" (default 8). */
  maxQueued?: number;
  /** Client exchanges alive at once, observations included (default 32). */
  maxExchanges?: number;
  /** Wait for a response after the ACK, or for a NON request (default MAX_TRANSMIT_WAIT 93 000 ms). */
  responseTimeoutMs?: number;
  /** §4.8.2 EXCHANGE_LIFETIME for duplicate detection (default 247 000 ms). */
  exchangeLifetimeMs?: number;
  /** Remembered (peer, message id) pairs; the oldest is forgotten when full (default 256). */
  maxDedup?: number;
  /**
   * Bytes of replies kept for answering duplicates (default 8192). Past it the
   * oldest replies are dropped; a duplicate of an idempotent request whose reply
   * was dropped is processed again, any other is ignored.
   */
  maxDedupBytes?: number;
  /** Largest assembled response body, bytes (default 16 384). */
  maxBodyBytes?: number;
  /** Token length for new requests, 0..8 (default 4). */
  tokenLength?: number;
  /** Default block size for Block1 uploads (default 1024). */
  blockSize?: number;
  /** Server: answer in the ACK if the application responds within this (default 500 ms). */
  piggybackWindowMs?: number;
  /** Server: requests awaiting the application's answer; beyond it 5.03 (default 16). */
  maxServerExchanges?: number;
  /** Observe: re-register this long after Max-Age ran out without a notification (default 2000 ms). */
  reregisterMarginMs?: number;
  /** Uniform random number in [0, 1): retransmission jitter, first message id, tokens. */
  random: () => number;
}

// ---------------------------------------------------------------------------

interface Flight {
  mid: number;
  wire: Uint8Array;
  confirmable: boolean;
  retransmits: number;
  timeoutMs: number;
  /** Retransmission deadline while a CON is unacknowledged. */
  deadline: number | undefined;
}

type ClientState = "queued" | "active" | "observing" | "cancelling";

interface ClientExchange {
  id: number;
  peer: Peer;
  key: string;
  spec: RequestSpec;
  token: Uint8Array;
  state: ClientState;
  ping: boolean;
  flight: Flight | undefined;
  /** When an answer must have arrived (after ACK / for NON). */
  responseDeadline: number | undefined;
  holdsSlot: boolean;
  // Block2 (RFC 7959 §2.4)
  b2Offset: number;
  b2Szx: number | undefined;
  b2Chunks: Uint8Array[];
  b2Length: number;
  /** A Block2 block was accepted: `etag` is the reference every later block must match. */
  b2Started: boolean;
  etag: Uint8Array | undefined;
  // Block1 (RFC 7959 §2.5)
  upload: UploadSource | undefined;
  b1Offset: number;
  b1Szx: number;
  b1Sent: number;
  // Observe (RFC 7641)
  lastSeq: number;
  lastSeqAt: number;
  acceptNext: boolean;
  reregisterAt: number | undefined;
  /** A notification's remaining blocks being fetched (RFC 7959 §2.6), or the observation it serves. */
  child: ClientExchange | undefined;
  parent: ClientExchange | undefined;
  /** For a child: the notification whose body it completes. */
  template: CoapMessage | undefined;
}

interface ServerExchange {
  id: number;
  peer: Peer;
  request: CoapMessage;
  dedupKey: string;
  /** Piggyback window end; after it an empty ACK goes out (CON only). */
  deadline: number | undefined;
  separate: boolean;
}

interface OutgoingCon {
  peer: Peer;
  token: Uint8Array;
  flight: Flight;
  notification: boolean;
}

interface DedupEntry {
  expires: number;
  reply: Uint8Array | undefined;
  /** The stored reply was dropped to stay within maxDedupBytes. */
  evicted: boolean;
  /** The request may be processed again if its reply was dropped (§5.1: safe/idempotent methods). */
  replayable: boolean;
}

/** RFC 7252 §5.1, RFC 8132 §2: GET, PUT, DELETE, FETCH and iPATCH are idempotent. */
function idempotent(method: number): boolean {
  return method === 1 || method === 3 || method === 4 || method === 5 || method === 7;
}

const EMPTY = new Uint8Array(0);
const SEQ_HALF = 1 << 23;
/** RFC 7252 §5.10.5: Max-Age defaults to 60 s; also the retry period for a failed re-registration. */
const DEFAULT_MAX_AGE_MS = 60_000;

function peerKey(p: Peer): string {
  return `${p.port}/${p.address}`;
}
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
function tokenKey(peer: string, token: Uint8Array): string {
  let s = peer + "#";
  for (let i = 0; i < token.length; i++) s += (token[i] < 16 ? "0" : "") + token[i].toString(16);
  return s;
}
function isUploadSource(p: Uint8Array | UploadSource | undefined): p is UploadSource {
  return p !== undefined && !(p instanceof Uint8Array);
}

export class CoapEndpoint {
  readonly #o: Required<EndpointOptions>;
  #nextMid: number;
  #nextServerExchange = 1;
  /** Ids of internal exchanges (negative, never the application's). */
  #nextInternalId = -1;
  readonly #clients = new Map<number, ClientExchange>();
  readonly #byToken = new Map<string, ClientExchange>();
  /** Unacknowledged CONs we sent, by peer + message id. */
  readonly #byMid = new Map<string, ClientExchange | OutgoingCon>();
  readonly #dedup = new Map<string, DedupEntry>();
  #dedupBytes = 0;
  readonly #servers = new Map<number, ServerExchange>();
  /** Recent NON notifications, so an RST to one can name its observer (bounded). */
  readonly #nonSent = new Map<string, { peer: Peer; token: Uint8Array }>();
  readonly #active = new Map<string, number>();
  #queued = 0;
  /** The `now` of the event being handled. */
  #now = 0;

  constructor(options: EndpointOptions) {
    this.#o = {
      ackTimeoutMs: 2000,
      ackRandomFactor: 1.5,
      maxRetransmit: 4,
      nstart: 1,
      maxQueued: 8,
      maxExchanges: 32,
      responseTimeoutMs: 93_000,
      exchangeLifetimeMs: 247_000,
      maxDedup: 256,
      maxDedupBytes: 8192,
      maxBodyBytes: 16_384,
      tokenLength: 4,
      blockSize: 1024,
      piggybackWindowMs: 500,
      maxServerExchanges: 16,
      reregisterMarginMs: 2000,
      ...definedOnly(options),
      random: options.random,
    };
    this.#nextMid = Math.floor(this.#o.random() * 0x10000) & 0xffff;
  }

  /** Client exchanges in progress (observations included) — for tests and metrics. */
  get exchangeCount(): number {
    return this.#clients.size;
  }

  /** The earliest time a `timer` event has work to do (absolute ms), or undefined. */
  nextDeadline(): number | undefined {
    let d: number | undefined;
    for (const ex of this.#clients.values()) {
      d = earliest(d, ex.flight?.deadline);
      d = earliest(d, ex.responseDeadline);
      d = earliest(d, ex.reregisterAt);
    }
    for (const s of this.#servers.values()) d = earliest(d, s.deadline);
    for (const o of this.#byMid.values()) if (!("spec" in o)) d = earliest(d, o.flight.deadline);
    return d;
  }

  handle(event: EndpointEvent, now: number): EndpointAction[] {
    const out: EndpointAction[] = [];
    this.#now = now;
    this.#expireDedup(now);
    switch (event.type) {
      case "datagram":
        this.#onDatagram(event.peer, event.data, now, out);
        break;
      case "timer":
        this.#onTimer(now, out);
        break;
      case "request":
      case "ping":
        this.#startRequest(event, now, out);
        break;
      case "cancel":
        this.#cancel(event.id, event.passive === true, now, out);
        break;
      case "respond":
        this.#respond(event.exchange, event.response, now, out);
        break;
      case "notify":
        this.#notify(event.peer, event.token, event.response, event.confirmable, now, out);
        break;
    }
    return out;
  }

  // -------------------------------------------------------------------------
  // Message layer

  #mid(): number {
    const m = this.#nextMid;
    this.#nextMid = (m + 1) & 0xffff;
    return m;
  }

  /** §4.2: initial timeout is random in [ACK_TIMEOUT, ACK_TIMEOUT × ACK_RANDOM_FACTOR]. */
  #initialTimeout(): number {
    return this.#o.ackTimeoutMs * (1 + this.#o.random() * (this.#o.ackRandomFactor - 1));
  }

  #flight(message: CoapMessage, now: number): Flight {
    const confirmable = message.type === "CON";
    const timeoutMs = confirmable ? this.#initialTimeout() : 0;
    return {
      mid: message.messageId,
      wire: encodeMessage(message),
      confirmable,
      retransmits: 0,
      timeoutMs,
      deadline: confirmable ? now + timeoutMs : undefined,
    };
  }

  #expireDedup(now: number): void {
    for (const [k, e] of this.#dedup) {
      if (e.expires > now) break; // insertion order = expiry order
      this.#forget(k, e);
    }
  }

  #forget(key: string, e: DedupEntry): void {
    if (e.reply !== undefined) this.#dedupBytes -= e.reply.length;
    this.#dedup.delete(key);
  }

  #remember(key: string, now: number, replayable: boolean): DedupEntry {
    if (this.#dedup.size >= this.#o.maxDedup) {
      for (const [k, e] of this.#dedup) {
        this.#forget(k, e);
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

  #send(peer: Peer, data: Uint8Array, out: EndpointAction[]): void {
    out.push({ type: "send", peer, data });
  }

  #reply(peer: Peer, m: CoapMessage, dedupKey: string | undefined, out: EndpointAction[]): void {
    const wire = encodeMessage(m);
    if (dedupKey !== undefined) {
      const e = this.#dedup.get(dedupKey);
      if (e !== undefined) this.#store(e, wire);
    }
    this.#send(peer, wire, out);
  }

  #onDatagram(peer: Peer, data: Uint8Array, now: number, out: EndpointAction[]): void {
    const key = peerKey(peer);
    let m: CoapMessage;
    try {
      m = decodeMessage(data);
    } catch (e) {
      if (!(e instanceof CoapFormatError)) throw e;
      this.#onMalformed(peer, key, e, now, out);
      return;
    }
    if (m.type === "ACK" || m.type === "RST") {
      this.#onAckOrReset(peer, key, m, now, out);
      return;
    }
    // CON or NON: duplicate detection (§4.5)
    const dk = `${key}|${m.messageId}`;
    const seen = this.#dedup.get(dk);
    if (seen !== undefined && !(seen.evicted && seen.replayable)) {
      if (m.type === "CON" && seen.reply !== undefined) this.#send(peer, seen.reply, out);
      return;
    }
    if (seen !== undefined) this.#forget(dk, seen); // reply dropped, request idempotent: process it again
    this.#remember(dk, now, codeClass(m.code) === 0 && idempotent(m.code));
    if (m.code === 0) {
      // §4.3: an empty CON is a ping, answered with RST; an empty NON is ignored.
      if (m.type === "CON") this.#reply(peer, emptyMessage("RST", m.messageId), dk, out);
      return;
    }
    if (codeClass(m.code) === 0) {
      this.#onRequest(peer, m, dk, now, out);
      return;
    }
    const ex = this.#byToken.get(tokenKey(key, m.token));
    if (ex === undefined) {
      // §4.2/§4.3: a response nobody waits for is rejected; RFC 7641 §3.6 relies on this.
      this.#reply(peer, emptyMessage("RST", m.messageId), dk, out);
      return;
    }
    if (m.type === "CON") this.#reply(peer, emptyMessage("ACK", m.messageId), dk, out);
    this.#onResponse(ex, m, now, out);
  }

  #onMalformed(peer: Peer, key: string, e: CoapFormatError, now: number, out: EndpointAction[]): void {
    const h = e.header;
    if (h === undefined) return; // §3: not even a header: silently ignore
    if (h.type === "ACK") {
      // A piggybacked response we cannot accept: the exchange fails rather than waits.
      const ex = this.#byMid.get(`${key}|${h.messageId}`);
      if (ex !== undefined && "spec" in ex) this.#finish(ex, out, { type: "failed", id: ex.id, code: "bad-response" });
      return;
    }
    if (h.type !== "CON") return; // §4.3: a malformed NON is silently ignored
    const dk = `${key}|${h.messageId}`;
    const seen = this.#dedup.get(dk);
    if (seen !== undefined) {
      if (seen.reply !== undefined) this.#send(peer, seen.reply, out);
      return;
    }
    this.#remember(dk, now, false);
    if (e.code === "unknown-critical-option" || e.code === "bad-critical-option") {
      if (codeClass(h.code) === 0 && h.code !== 0) {
        // §5.4.1: a CON request with an unrecognised critical option gets 4.02 Bad Option.
        this.#reply(
          peer,
          { type: "ACK", code: ResponseCode.BadOption, messageId: h.messageId, token: h.token, options: [], payload: EMPTY },
          dk,
          out,
        );
        return;
      }
    }
    this.#reply(peer, emptyMessage("RST", h.messageId), dk, out); // §4.2
  }

  #onAckOrReset(peer: Peer, key: string, m: CoapMessage, now: number, out: EndpointAction[]): void {
    const mk = `${key}|${m.messageId}`;
    const owner = this.#byMid.get(mk);
    if (owner === undefined) {
      if (m.type === "RST") {
        const non = this.#nonSent.get(mk);
        if (non !== undefined) {
          this.#nonSent.delete(mk);
          out.push({ type: "observer-gone", peer: non.peer, token: non.token });
        }
      }
      return; // a late or stray ACK/RST: nothing to do
    }
    if (!("spec" in owner)) {
      // A server-side CON (separate response or notification).
      this.#byMid.delete(mk);
      if (m.type === "RST" && owner.notification) out.push({ type: "observer-gone", peer: owner.peer, token: owner.token });
      return;
    }
    const ex = owner;
    if (ex.flight === undefined || ex.flight.mid !== m.messageId) return;
    if (m.type === "ACK" && !ex.flight.confirmable) return; // §4.3: a NON is never acknowledged
    if (m.type === "ACK" && m.code !== 0 && !ex.ping && !sameBytes(m.token, ex.token)) return; // §5.3.2: not our response
    this.#byMid.delete(mk);
    ex.flight.deadline = undefined;
    if (m.type === "RST") {
      if (ex.ping) this.#finish(ex, out, { type: "pong", id: ex.id });
      else if (ex.state === "observing" || ex.state === "cancelling") {
        // Re-registration or deregistration refused: the server no longer knows us.
        this.#finish(ex, out, ex.state === "cancelling" ? { type: "failed", id: ex.id, code: "cancelled" } : { type: "failed", id: ex.id, code: "reset" });
      } else this.#finish(ex, out, { type: "failed", id: ex.id, code: "reset" });
      return;
    }
    if (ex.ping) {
      // An empty ACK to an empty CON is not a pong, but proves the peer is alive.
      this.#finish(ex, out, { type: "pong", id: ex.id });
      return;
    }
    if (m.code === 0) {
      // §5.2.2: empty ACK, the response will come separately.
      ex.responseDeadline = now + this.#o.responseTimeoutMs;
      return;
    }
    this.#onResponse(ex, m, now, out);
  }

  #onTimer(now: number, out: EndpointAction[]): void {
    for (const ex of [...this.#clients.values()]) {
      const f = ex.flight;
      if (f !== undefined && f.deadline !== undefined && f.deadline <= now) {
        if (f.retransmits < this.#o.maxRetransmit) {
          // §4.2: retransmit with the timeout doubled.
          f.retransmits++;
          f.timeoutMs *= 2;
          f.deadline = now + f.timeoutMs;
          this.#send(ex.peer, f.wire, out);
        } else {
          this.#byMid.delete(`${ex.key}|${f.mid}`);
          ex.flight = undefined;
          this.#onExchangeTimeout(ex, now, out);
          continue;
        }
      }
      if (ex.responseDeadline !== undefined && ex.responseDeadline <= now) {
        ex.responseDeadline = undefined;
        this.#onExchangeTimeout(ex, now, out);
        continue;
      }
      if (ex.reregisterAt !== undefined && ex.reregisterAt <= now) {
        ex.reregisterAt = undefined;
        this.#reregister(ex, now, out);
      }
    }
    for (const [mk, o] of [...this.#byMid]) {
      if ("spec" in o) continue;
      const f = o.flight;
      if (f.deadline === undefined || f.deadline > now) continue;
      if (f.retransmits < this.#o.maxRetransmit) {
        f.retransmits++;
        f.timeoutMs *= 2;
        f.deadline = now + f.timeoutMs;
        this.#send(o.peer, f.wire, out);
      } else {
        this.#byMid.delete(mk);
        if (o.notification) out.push({ type: "observer-gone", peer: o.peer, token: o.token });
      }
    }
    for (const s of [...this.#servers.values()]) {
      if (s.deadline === undefined || s.deadline > now) continue;
      if (s.separate || s.request.type === "NON") {
        this.#servers.delete(s.id); // the application never answered: forget it
        continue;
      }
      // §5.2.2: the application is slow; acknowledge now, respond separately later.
      s.deadline = now + this.#o.responseTimeoutMs;
      s.separate = true;
      this.#reply(s.peer, emptyMessage("ACK", s.request.messageId), s.dedupKey, out);
    }
  }

  #onExchangeTimeout(ex: ClientExchange, now: number, out: EndpointAction[]): void {
    if (ex.state === "observing") {
      // A re-registration went unanswered: keep the observation and try again later.
      ex.responseDeadline = undefined;
      ex.reregisterAt = now + DEFAULT_MAX_AGE_MS;
      return;
    }
    if (ex.state === "cancelling") {
      this.#finish(ex, out, { type: "failed", id: ex.id, code: "cancelled" });
      return;
    }
    this.#finish(ex, out, { type: "failed", id: ex.id, code: "timeout" });
  }

  // -------------------------------------------------------------------------
  // Client exchanges

  #token(): Uint8Array {
    const t = new Uint8Array(this.#o.tokenLength);
    for (let i = 0; i < t.length; i++) t[i] = Math.floor(this.#o.random() * 256) & 0xff;
    return t;
  }

  #startRequest(
    event: { type: "request"; id: number; peer: Peer; request: RequestSpec } | { type: "ping"; id: number; peer: Peer },
    now: number,
    out: EndpointAction[],
  ): void {
    const ping = event.type === "ping";
    const spec: RequestSpec = event.type === "request" ? event.request : { method: 0 };
    if (this.#clients.size >= this.#o.maxExchanges) {
      out.push({ type: "failed", id: event.id, code: "queue-full" });
      return;
    }
    const key = peerKey(event.peer);
    let token = spec.token ?? (ping ? EMPTY : this.#token());
    if (!ping) {
      for (let tries = 0; tries < 4 && this.#byToken.has(tokenKey(key, token)); tries++) token = this.#token();
      // A weak random source: count the token up until it is unique (bounded).
      for (let tries = 0; tries < 64 && token.length > 0 && this.#byToken.has(tokenKey(key, token)); tries++) {
        token = token.slice();
        for (let k = token.length - 1; k >= 0 && ++token[k] === 0; k--);
      }
      if (this.#byToken.has(tokenKey(key, token))) {
        out.push({ type: "failed", id: event.id, code: "queue-full" });
        return;
      }
    }
    const upload = isUploadSource(spec.payload)
      ? spec.payload
      : spec.payload !== undefined && spec.payload.length > (spec.blockSize ?? this.#o.blockSize)
        ? bytesSource(spec.payload)
        : undefined;
    const ex: ClientExchange = {
      id: event.id,
      peer: event.peer,
      key,
      spec,
      token,
      state: "queued",
      ping,
      flight: undefined,
      responseDeadline: undefined,
      holdsSlot: false,
      b2Offset: spec.offset ?? 0,
      b2Szx: spec.offset ? szxFor(spec.blockSize ?? this.#o.blockSize) : undefined,
      b2Chunks: [],
      b2Length: 0,
      b2Started: false,
      etag: undefined,
      upload,
      b1Offset: 0,
      b1Szx: szxFor(spec.blockSize ?? this.#o.blockSize),
      b1Sent: 0,
      lastSeq: -1,
      lastSeqAt: 0,
      acceptNext: true,
      reregisterAt: undefined,
      child: undefined,
      parent: undefined,
      template: undefined,
    };
    if ((this.#active.get(key) ?? 0) >= this.#o.nstart) {
      if (this.#queued >= this.#o.maxQueued) {
        out.push({ type: "failed", id: event.id, code: "queue-full" });
        return;
      }
      this.#queued++;
      this.#clients.set(ex.id, ex);
      if (!ping) this.#byToken.set(tokenKey(key, token), ex);
      return;
    }
    this.#clients.set(ex.id, ex);
    if (!ping) this.#byToken.set(tokenKey(key, token), ex);
    this.#activate(ex, now, out);
  }

  #activate(ex: ClientExchange, now: number, out: EndpointAction[]): void {
    ex.state = "active";
    ex.holdsSlot = true;
    this.#active.set(ex.key, (this.#active.get(ex.key) ?? 0) + 1);
    if (ex.ping) {
      this.#transmit(ex, emptyMessage("CON", this.#mid()), now, out);
      return;
    }
    this.#sendRequest(ex, now, out);
  }

  #releaseSlot(ex: ClientExchange, now: number, out: EndpointAction[]): void {
    if (!ex.holdsSlot) return;
    ex.holdsSlot = false;
    const n = (this.#active.get(ex.key) ?? 1) - 1;
    if (n <= 0) this.#active.delete(ex.key);
    else this.#active.set(ex.key, n);
    // §4.7: the next queued request to this peer may start now.
    for (const q of this.#clients.values()) {
      if (q.state !== "queued" || q.key !== ex.key) continue;
      this.#queued--;
      this.#activate(q, now, out);
      break;
    }
  }

  /** Builds the request message for the exchange's current step and sends it. */
  #sendRequest(ex: ClientExchange, now: number, out: EndpointAction[]): void {
    const spec = ex.spec;
    let options = spec.options ? spec.options.slice() : [];
    let payload: Uint8Array = EMPTY;
    if (ex.state === "cancelling") options.push({ number: Option.Observe, value: encodeUint(1) });
    else if (spec.observe) options.push({ number: Option.Observe, value: EMPTY });
    if (ex.upload !== undefined) {
      // RFC 7959 §2.5: one Block1 block per request; Size1 announces the total (§4).
      const size = blockSize(ex.b1Szx);
      const chunk = ex.upload.read(ex.b1Offset, size);
      const more = ex.b1Offset + chunk.length < ex.upload.size && chunk.length === size;
      options.push({ number: Option.Block1, value: encodeBlock({ num: ex.b1Offset / size, more, szx: ex.b1Szx }) });
      if (ex.b1Offset === 0) options.push({ number: Option.Size1, value: encodeUint(ex.upload.size) });
      payload = chunk;
      ex.b1Sent = chunk.length;
    } else if (spec.payload instanceof Uint8Array && ex.b2Offset === 0) payload = spec.payload;
    // RFC 7959 §3.3: requests for the later blocks of a response carry no payload.
    if (ex.b2Offset > 0 && ex.b2Szx !== undefined) {
      // RFC 7959 §2.4: ask for the next block in the size the server chose.
      options = withoutOption(options, Option.Observe);
      options.push({ number: Option.Block2, value: encodeBlock({ num: ex.b2Offset / blockSize(ex.b2Szx), more: false, szx: ex.b2Szx }) });
    } else if (spec.blockSize !== undefined && ex.upload === undefined && ex.state !== "cancelling") {
      // Early negotiation (RFC 7959 §2.4): ask for blocks of at most this size.
      options.push({ number: Option.Block2, value: encodeBlock({ num: 0, more: false, szx: szxFor(spec.blockSize) }) });
    }
    const confirmable = spec.confirmable !== false || ex.state === "cancelling";
    const m: CoapMessage = { type: confirmable ? "CON" : "NON", code: spec.method, messageId: this.#mid(), token: ex.token, options, payload };
    this.#transmit(ex, m, now, out);
  }

  #transmit(ex: ClientExchange, m: CoapMessage, now: number, out: EndpointAction[]): void {
    if (ex.flight !== undefined) this.#byMid.delete(`${ex.key}|${ex.flight.mid}`);
    const f = this.#flight(m, now);
    ex.flight = f;
    // NON too: a peer may answer a NON request with RST (§4.3).
    this.#byMid.set(`${ex.key}|${f.mid}`, ex);
    ex.responseDeadline = f.confirmable ? undefined : now + this.#o.responseTimeoutMs;
    this.#send(ex.peer, f.wire, out);
  }

  #onResponse(ex: ClientExchange, m: CoapMessage, now: number, out: EndpointAction[]): void {
    // Any response settles the request in flight (§5.2.2: it implies the ACK).
    if (ex.flight !== undefined) {
      this.#byMid.delete(`${ex.key}|${ex.flight.mid}`);
      ex.flight.deadline = undefined;
    }
    ex.responseDeadline = undefined;
    if (ex.state === "queued") return;
    if (ex.state === "cancelling") {
      this.#finish(ex, out, { type: "failed", id: ex.id, code: "cancelled" });
      return;
    }
    if (ex.spec.observe && ex.b2Offset === 0) {
      this.#onObserveResponse(ex, m, now, out);
      return;
    }
    // RFC 7959 Block1: continue an upload.
    if (ex.upload !== undefined) {
      const b1 = optionBlock(m, Option.Block1);
      if (m.code === ResponseCode.Continue && b1 !== undefined) {
        const size = blockSize(Math.min(b1.szx, ex.b1Szx));
        const next = (b1.num + 1) * blockSize(b1.szx);
        if (next <= ex.b1Offset || next > ex.b1Offset + ex.b1Sent || next % size !== 0) {
          this.#finish(ex, out, { type: "failed", id: ex.id, code: "block-mismatch" });
          return;
        }
        ex.b1Szx = Math.min(b1.szx, ex.b1Szx); // §2.5 late negotiation
        ex.b1Offset = next;
        this.#sendRequest(ex, now, out);
        return;
      }
      if (m.code === ResponseCode.RequestEntityTooLarge && b1 !== undefined && b1.szx < ex.b1Szx) {
        // §2.9.3: the server wants smaller blocks: start over in its size.
        ex.b1Szx = b1.szx;
        ex.b1Offset = 0;
        this.#sendRequest(ex, now, out);
        return;
      }
      ex.upload = undefined; // final response to the last block (or an error); its body may continue with Block2 (§3.3)
    }
    const b2 = optionBlock(m, Option.Block2);
    if (b2 === undefined || codeClass(m.code) !== 2) {
      if (ex.b2Offset > 0) {
        // The server stopped answering with blocks mid-transfer.
        this.#finish(ex, out, { type: "failed", id: ex.id, code: "block-mismatch" });
        return;
      }
      this.#deliverFinal(ex, m, out);
      return;
    }
    // RFC 7959 §2.4: a Block2 response; it must be the block we asked for.
    const size = blockSize(b2.szx);
    if (b2.num * size !== ex.b2Offset) {
      this.#finish(ex, out, { type: "failed", id: ex.id, code: "block-mismatch" });
      return;
    }
    // §2.4: the blocks of one body carry the same ETag (or none). The first block
    // this exchange receives sets the reference — block 0, or the block a
    // resumed download starts at (`offset`): there is nothing to compare it to.
    // (libcoap answers a mid-resource request with ETag and Size2 when it still
    // holds the body for this client from an earlier transfer, without them
    // when it does not; both are one consistent body.)
    const etag = findOption(m, Option.ETag)?.value;
    if (!ex.b2Started) {
      ex.b2Started = true;
      ex.etag = etag;
    } else if ((ex.etag === undefined) !== (etag === undefined) || (etag !== undefined && !sameBytes(etag, ex.etag!))) {
      this.#finish(ex, out, { type: "failed", id: ex.id, code: "block-mismatch" });
      return;
    }
    if (b2.more && m.payload.length !== size) {
      this.#finish(ex, out, { type: "failed", id: ex.id, code: "block-mismatch" });
      return;
    }
    if (ex.spec.stream) {
      out.push({ type: "block", id: ex.id, offset: ex.b2Offset, data: m.payload, more: b2.more, response: m });
    } else {
      if (ex.b2Length + m.payload.length > this.#o.maxBodyBytes) {
        this.#finish(ex, out, { type: "failed", id: ex.id, code: "too-large" });
        return;
      }
      ex.b2Chunks.push(m.payload);
      ex.b2Length += m.payload.length;
    }
    if (!b2.more) {
      if (ex.spec.stream) this.#finish(ex, out, { type: "response", id: ex.id, response: m });
      else this.#deliverFinal(ex, { ...m, payload: concat(ex.b2Chunks, ex.b2Length) }, out);
      return;
    }
    ex.b2Offset += m.payload.length;
    ex.b2Szx = b2.szx;
    this.#sendRequest(ex, now, out);
  }

  #deliverFinal(ex: ClientExchange, m: CoapMessage, out: EndpointAction[]): void {
    if (ex.spec.stream) {
      out.push({ type: "block", id: ex.id, offset: 0, data: m.payload, more: false, response: m });
    }
    this.#finish(ex, out, { type: "response", id: ex.id, response: m });
  }

  /** RFC 7641 §3.4: is a notification with `seq` arriving at `now` newer than the last one? */
  #fresh(ex: ClientExchange, seq: number, now: number): boolean {
    if (ex.acceptNext) return true;
    const v1 = ex.lastSeq;
    const v2 = seq;
    return (v1 < v2 && v2 - v1 < SEQ_HALF) || (v1 > v2 && v1 - v2 > SEQ_HALF) || now > ex.lastSeqAt + 128_000;
  }

  #onObserveResponse(ex: ClientExchange, m: CoapMessage, now: number, out: EndpointAction[]): void {
    const seq = optionUint(m, Option.Observe);
    if (seq === undefined || codeClass(m.code) !== 2) {
      // §3.2: no Observe option: the server did not (or no longer does) register us.
      this.#finish(ex, out, { type: "response", id: ex.id, response: m });
      return;
    }
    const first = ex.state === "active";
    if (first) {
      ex.state = "observing";
      this.#releaseSlot(ex, now, out);
    }
    if (!this.#fresh(ex, seq, now)) return; // §3.4: stale, dropped
    ex.acceptNext = false;
    ex.lastSeq = seq;
    ex.lastSeqAt = now;
    // §3.3.1: expect the next notification before Max-Age (default 60 s) runs out.
    const maxAge = optionUint(m, Option.MaxAge) ?? 60;
    ex.reregisterAt = now + maxAge * 1000 + this.#o.reregisterMarginMs;
    const b2 = optionBlock(m, Option.Block2);
    if (b2 !== undefined && b2.num === 0 && b2.more && m.payload.length === blockSize(b2.szx)) {
      this.#fetchRest(ex, m, b2.szx, now, out);
      return;
    }
    out.push({ type: "notification", id: ex.id, response: m });
  }

  #reregister(ex: ClientExchange, now: number, out: EndpointAction[]): void {
    // §3.3.1: same token, so the new registration replaces the old one; the
    // server's answer restarts the freshness check (it may have restarted).
    ex.acceptNext = true;
    ex.reregisterAt = undefined;
    this.#sendRequest(ex, now, out);
  }

  #cancel(id: number, passive: boolean, now: number, out: EndpointAction[]): void {
    const ex = this.#clients.get(id);
    if (ex === undefined) return;
    if (ex.state === "observing" && !passive) {
      // RFC 7641 §3.6: a GET with Observe=1 and the same token deregisters.
      ex.state = "cancelling";
      ex.reregisterAt = undefined;
      ex.b2Offset = 0;
      this.#sendRequest(ex, now, out);
      return;
    }
    // Passive (§3.6): forget the token; the next notification gets RST.
    this.#finish(ex, out, { type: "failed", id, code: "cancelled" });
  }

  #finish(ex: ClientExchange, out: EndpointAction[], final: EndpointAction | undefined): void {
    if (this.#clients.get(ex.id) !== ex) return;
    this.#clients.delete(ex.id);
    if (!ex.ping) this.#byToken.delete(tokenKey(ex.key, ex.token));
    if (ex.flight !== undefined) this.#byMid.delete(`${ex.key}|${ex.flight.mid}`);
    if (ex.state === "queued") this.#queued--;
    if (ex.child !== undefined) this.#finish(ex.child, out, undefined); // the observation ended: drop its fetch
    const parent = ex.parent;
    if (parent !== undefined) {
      // A notification's body is complete: deliver it as the notification (with its Observe option).
      if (parent.child === ex) parent.child = undefined;
      if (final !== undefined && final.type === "response" && ex.template !== undefined && this.#clients.get(parent.id) === parent) {
        out.push({ type: "notification", id: parent.id, response: { ...ex.template, payload: final.response.payload } });
      }
    } else if (final !== undefined) out.push(final);
    this.#releaseSlot(ex, this.#now, out);
  }

  /**
   * RFC 7959 §2.6 (with RFC 7641): a notification bigger than one block came as
   * block 0; GET the rest without Observe, on a token of its own, and deliver the
   * whole body as the notification. A newer notification replaces the fetch.
   */
  #fetchRest(parent: ClientExchange, m: CoapMessage, szx: number, now: number, out: EndpointAction[]): void {
    if (parent.child !== undefined) this.#finish(parent.child, out, undefined);
    let token = this.#token();
    for (let tries = 0; tries < 64 && this.#byToken.has(tokenKey(parent.key, token)); tries++) {
      token = token.slice();
      for (let k = token.length - 1; k >= 0 && ++token[k] === 0; k--);
    }
    if (this.#byToken.has(tokenKey(parent.key, token))) return; // cannot fetch: this notification is lost, the next may not be
    const id = this.#nextInternalId;
    this.#nextInternalId = id <= -0x7fffffff ? -1 : id - 1;
    const child: ClientExchange = {
      ...parent,
      id,
      spec: { method: parent.spec.method, options: parent.spec.options },
      token,
      state: "queued",
      flight: undefined,
      responseDeadline: undefined,
      holdsSlot: false,
      b2Offset: m.payload.length,
      b2Szx: szx,
      b2Chunks: [m.payload],
      b2Length: m.payload.length,
      b2Started: true,
      etag: findOption(m, Option.ETag)?.value,
      upload: undefined,
      reregisterAt: undefined,
      child: undefined,
      parent,
      template: m,
    };
    parent.child = child;
    this.#clients.set(id, child);
    this.#byToken.set(tokenKey(child.key, token), child);
    this.#activate(child, now, out);
  }

  // -------------------------------------------------------------------------
  // Server side

  #onRequest(peer: Peer, m: CoapMessage, dk: string, now: number, out: EndpointAction[]): void {
    if (this.#servers.size >= this.#o.maxServerExchanges) {
      const busy = { code: ResponseCode.ServiceUnavailable, options: [{ number: Option.MaxAge, value: encodeUint(1) }] };
      this.#sendResponse(peer, m, dk, false, busy, now, out);
      return;
    }
    const id = this.#nextServerExchange;
    this.#nextServerExchange = (id % 0x7fffffff) + 1;
    this.#servers.set(id, {
      id,
      peer,
      request: m,
      dedupKey: dk,
      deadline: now + (m.type === "CON" ? this.#o.piggybackWindowMs : this.#o.responseTimeoutMs),
      separate: false,
    });
    out.push({ type: "incoming", exchange: id, peer, request: m });
  }

  #respond(id: number, response: ResponseSpec, now: number, out: EndpointAction[]): void {
    const s = this.#servers.get(id);
    if (s === undefined) return; // answered already, or unknown
    this.#servers.delete(id);
    this.#sendResponse(s.peer, s.request, s.dedupKey, s.separate, response, now, out);
  }

  #sendResponse(
    peer: Peer,
    req: CoapMessage,
    dk: string,
    separate: boolean,
    r: ResponseSpec,
    now: number,
    out: EndpointAction[],
  ): void {
    // RFC 7967 §2: No-Response suppresses classes the client is not interested in.
    const nr = optionUint(req, Option.NoResponse);
    const cls = codeClass(r.code);
    const suppressed = nr !== undefined && ((cls === 2 && (nr & 2) !== 0) || (cls === 4 && (nr & 8) !== 0) || (cls === 5 && (nr & 16) !== 0));
    const base = { code: r.code, token: req.token, options: r.options ?? [], payload: r.payload ?? EMPTY };
    if (req.type === "CON" && !separate) {
      if (suppressed) this.#reply(peer, emptyMessage("ACK", req.messageId), dk, out);
      else this.#reply(peer, { type: "ACK", messageId: req.messageId, ...base }, dk, out); // §5.2.1 piggybacked
      return;
    }
    if (suppressed) return;
    if (req.type === "NON") {
      // §5.2.3: a NON request gets a NON response.
      this.#send(peer, encodeMessage({ type: "NON", messageId: this.#mid(), ...base }), out);
      return;
    }
    // §5.2.2: separate response, as a CON of its own.
    const m: CoapMessage = { type: "CON", messageId: this.#mid(), ...base };
    const f = this.#flight(m, now);
    this.#byMid.set(`${peerKey(peer)}|${f.mid}`, { peer, token: req.token, flight: f, notification: false });
    this.#send(peer, f.wire, out);
  }

  #notify(peer: Peer, token: Uint8Array, r: ResponseSpec, confirmable: boolean, now: number, out: EndpointAction[]): void {
    const m: CoapMessage = {
      type: confirmable ? "CON" : "NON",
      code: r.code,
      messageId: this.#mid(),
      token,
      options: r.options ?? [],
      payload: r.payload ?? EMPTY,
    };
    const key = `${peerKey(peer)}|${m.messageId}`;
    if (confirmable) {
      // RFC 7641 §4.5: a newer notification replaces an unacknowledged older one to the same observer.
      for (const [k, o] of this.#byMid) {
        if (!("spec" in o) && o.notification && peerKey(o.peer) === peerKey(peer) && sameBytes(o.token, token)) this.#byMid.delete(k);
      }
      const f = this.#flight(m, now);
      this.#byMid.set(key, { peer, token, flight: f, notification: true });
      this.#send(peer, f.wire, out);
      return;
    }
    if (this.#nonSent.size >= 64) {
      const oldest = this.#nonSent.keys().next().value;
      if (oldest !== undefined) this.#nonSent.delete(oldest);
    }
    this.#nonSent.set(key, { peer, token });
    this.#send(peer, encodeMessage(m), out);
  }
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return b === undefined || (a !== undefined && a <= b) ? a : b;
}

/** `{...defaults, ...given}` would let an explicit `undefined` erase a default. */
function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function szxFor(size: number): number {
  let szx = 6;
  while (szx > 0 && blockSize(szx) > size) szx--;
  return szx;
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(length);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** An in-memory body as an upload source. */
export function bytesSource(data: Uint8Array): UploadSource {
  return {
    size: data.length,
    read(offset: number, length: number): Uint8Array {
      return data.subarray(offset, Math.min(offset + length, data.length));
    },
  };
}

export type { CoapType };
