/**
 * CoAP endpoint (RFC 7252), sans-I/O: one `CoapEndpoint` serves one UDP
 * socket, as client and as server. It is fed `handle(event, now)` — a
 * datagram, a timer tick, an application call — and returns `Action[]`:
 * datagrams to send and deliveries to the application. `nextDeadline()` says
 * when it wants the next timer event. There is no clock, socket or timer in
 * here; randomness is an option.
 *
 * Read in this order:
 *   endpoint-types.ts    events, actions, options, the per-exchange records
 *   message-layer.ts     message ids, CON retransmission, duplicate detection (§4)
 *   blockwise.ts         Block1 uploads and Block2 downloads (RFC 7959)
 *   observe.ts           notification freshness, re-registration (RFC 7641)
 *   server-exchanges.ts  requests we answer, notifications we send
 *   endpoint.ts (this)   the dispatch of incoming messages and timer ticks,
 *                        and the client exchanges
 *
 * Client exchanges (§5.2, §5.3) are matched by token. A piggybacked response
 * arrives in the ACK; an empty ACK means a separate response will follow as
 * its own CON, which we ACK. At most NSTART exchanges per peer are
 * outstanding (§4.7); more wait in a bounded queue. An observation
 * (RFC 7641) stays alive after its first response; cancelling sends GET with
 * Observe=1 (§3.6); notifications for tokens we no longer know get RST. A CON
 * that cannot be parsed gets RST (§4.2), or 4.02 for an unknown critical
 * option (§5.4.1).
 */
import { MoteError } from "../errors.js";
import { CoapFormatError, codeClass, decodeMessage, emptyMessage, optionBlock, optionUint, Option, ResponseCode, blockSize, type CoapMessage, type CoapType } from "./codec.js";
import { acceptBlock1, acceptBlock2, bytesSource, concat, nextRequest, szxFor } from "./blockwise.js";
import type { ClientExchange, EndpointAction, EndpointEvent, EndpointOptions, ExchangeFailure, Peer, PeerEntry, RequestSpec, ResolvedOptions, UploadSource } from "./endpoint-types.js";
import { MessageLayer, idempotent, isClientExchange, midKey, sameBytes } from "./message-layer.js";
import {
  ACK, ACTIVE, BLOCK, BLOCK_MISMATCH, CANCEL, CANCELLING, CON, DATAGRAM, DONE, EXPIRED, FAILED, LAST, NEXT, NON,
  NOTIFICATION, NOTIFY, OBSERVER_GONE, OBSERVING, PING, PONG, QUEUED, REQUEST, RESEND, RESPOND, RESPONSE, RST, TIMER, WHOLE,
} from "./names.js";
import { MAX_PEERS_LIMIT, PeerTable, TokenTable } from "./peers.js";
import { DEFAULT_MAX_AGE_MS, isFresh, notificationFetch, reregisterAt } from "./observe.js";
import { ServerExchanges } from "./server-exchanges.js";

export type {
  EndpointAction,
  EndpointEvent,
  EndpointOptions,
  ExchangeFailure,
  Peer,
  RequestSpec,
  ResponseSpec,
  UploadSource,
} from "./endpoint-types.js";
export { bytesSource } from "./blockwise.js";
export type { CoapType };

const EMPTY = new Uint8Array(0);

function isUploadSource(p: Uint8Array | UploadSource | undefined): p is UploadSource {
  return p !== undefined && !(p instanceof Uint8Array);
}

export class CoapEndpoint {
  readonly #o: ResolvedOptions;
  readonly #layer: MessageLayer;
  readonly #server: ServerExchanges;
  /** Ids of internal exchanges (negative, never the application's). */
  #nextInternalId = -1;
  readonly #clients = new Map<number, ClientExchange>();
  /** Client exchanges by peer and token (§5.3.2), pings excepted. */
  readonly #byToken = new TokenTable();
  readonly #peers: PeerTable;
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
      maxPeers: 64,
      ...definedOnly(options),
      random: options.random,
    };
    const maxPeers = this.#o.maxPeers;
    if (!(Number.isInteger(maxPeers) && maxPeers >= 1 && maxPeers <= MAX_PEERS_LIMIT)) throw new MoteError("invalid-argument", `maxPeers ${maxPeers}`);
    if (!(Number.isInteger(this.#o.maxDedup) && this.#o.maxDedup >= 1)) throw new MoteError("invalid-argument", `maxDedup ${this.#o.maxDedup}`);
    this.#peers = new PeerTable(maxPeers);
    this.#layer = new MessageLayer(this.#o);
    this.#server = new ServerExchanges(this.#layer, this.#o);
  }

  /** Client exchanges in progress (observations included) — for tests and metrics. */
  get exchangeCount(): number {
    return this.#clients.size;
  }

  /** The earliest time a `timer` event has work to do (absolute ms), or undefined. */
  nextDeadline(): number | undefined {
    // forEach with a callback made once: a for…of over the Map made an iterator and a result
    // per exchange at every datagram (garbage on XS)
    this.#earliest = this.#server.nextDeadline();
    this.#clients.forEach(this.#visitDeadlines);
    return this.#earliest;
  }

  /** nextDeadline()'s running minimum, and its callback. */
  #earliest: number | undefined;
  readonly #visitDeadlines = (ex: ClientExchange): void => {
    this.#earliest = earliest(earliest(earliest(this.#earliest, ex.flight?.deadline), ex.responseDeadline), ex.reregisterAt);
  };

  /** Handles `event`; the actions are appended to `out` (a new array if none is given) and returned. */
  handle(event: EndpointEvent, now: number, out: EndpointAction[] = []): EndpointAction[] {
    this.#now = now;
    this.#layer.expire(now);
    switch (event.type) {
      case DATAGRAM:
        this.#onDatagram(event.peer.address, event.peer.port, event.peer, event.data, now, out);
        break;
      case TIMER:
        this.#onTimer(now, out);
        break;
      case REQUEST:
      case PING:
        this.#startRequest(event, now, out);
        break;
      case CANCEL:
        this.#cancel(event.id, event.passive === true, now, out);
        break;
      case RESPOND:
        this.#server.respond(event.exchange, event.response, now, out);
        break;
      case NOTIFY: {
        const entry = this.#peerEntry(event.peer.address, event.peer.port, event.peer, now);
        if (entry === undefined) out.push({ type: OBSERVER_GONE, peer: event.peer, token: event.token }); // no room to follow it (maxPeers)
        else this.#server.notify(entry.peer, entry.id, event.token, event.response, event.confirmable, now, out);
        break;
      }
    }
    return out;
  }

  /** `handle()` of a datagram from `address`:`port`, without the event object (the driver's path, once per datagram). */
  datagram(address: string, port: number, data: Uint8Array, now: number, out: EndpointAction[]): EndpointAction[] {
    this.#now = now;
    this.#layer.expire(now);
    this.#onDatagram(address, port, undefined, data, now, out);
    return out;
  }

  // -------------------------------------------------------------------------
  // Incoming messages and timer ticks

  /** `given`: the caller's object for the peer, if it has one (kept for a new peer). */
  #onDatagram(address: string, port: number, given: Peer | undefined, data: Uint8Array, now: number, out: EndpointAction[]): void {
    const entry = this.#peerEntry(address, port, given, now);
    if (entry === undefined) return; // every known peer is busy (maxPeers): dropped as if lost
    const peer = entry.peer;
    const pid = entry.id;
    let m: CoapMessage;
    try {
      m = decodeMessage(data);
    } catch (e) {
      if (!(e instanceof CoapFormatError)) throw e;
      this.#onMalformed(peer, pid, e, now, out);
      return;
    }
    if (m.type === ACK || m.type === RST) {
      this.#onAckOrReset(pid, m, now, out);
      return;
    }
    // CON or NON: duplicate detection (§4.5), by peer and message id
    const layer = this.#layer;
    const dk = midKey(pid, m.messageId);
    const seen = layer.seen(dk);
    if (seen >= 0 && !layer.replayable(seen)) {
      if (m.type === CON) layer.resend(seen, peer, out);
      return;
    }
    // new, or a duplicate whose reply was dropped and whose request is idempotent: processed (again)
    layer.remember(dk, now, codeClass(m.code) === 0 && idempotent(m.code));
    if (m.code === 0) {
      // §4.3: an empty CON is a ping, answered with RST; an empty NON is ignored.
      if (m.type === CON) layer.replyEmpty(peer, RST, m.messageId, dk, out);
      return;
    }
    if (codeClass(m.code) === 0) {
      this.#server.onRequest(peer, pid, m, dk, now, out);
      return;
    }
    const ex = this.#byToken.get(pid, m.token); // §5.3.2: the token of the peer's response names the exchange
    if (ex === undefined) {
      // §4.2/§4.3: a response nobody waits for is rejected; RFC 7641 §3.6 relies on this.
      layer.replyEmpty(peer, RST, m.messageId, dk, out);
      return;
    }
    if (m.type === CON) layer.replyEmpty(peer, ACK, m.messageId, dk, out); // §4.2: a CON response is acknowledged
    this.#onResponse(ex, m, now, out);
  }

  #onMalformed(peer: Peer, pid: number, e: CoapFormatError, now: number, out: EndpointAction[]): void {
    const h = e.header;
    if (h === undefined) return; // §3: not even a header: silently ignore
    const layer = this.#layer;
    if (h.type === ACK) {
      // A piggybacked response we cannot accept: the exchange fails rather than waits.
      const ex = layer.unacked.get(midKey(pid, h.messageId));
      if (ex !== undefined && isClientExchange(ex)) this.#fail(ex, out, "bad-response");
      return;
    }
    if (h.type !== CON) return; // §4.3: a malformed NON is silently ignored
    const dk = midKey(pid, h.messageId);
    const seen = layer.seen(dk);
    if (seen >= 0) {
      layer.resend(seen, peer, out);
      return;
    }
    layer.remember(dk, now, false);
    if ((e.code === "unknown-critical-option" || e.code === "bad-critical-option") && codeClass(h.code) === 0 && h.code !== 0) {
      // §5.4.1: a CON request with an unrecognised critical option gets 4.02 Bad Option.
      layer.reply(peer, { type: ACK, code: ResponseCode.BadOption, messageId: h.messageId, token: h.token, options: [], payload: EMPTY }, dk, out);
      return;
    }
    layer.replyEmpty(peer, RST, h.messageId, dk, out); // §4.2
  }

  #onAckOrReset(pid: number, m: CoapMessage, now: number, out: EndpointAction[]): void {
    const mk = midKey(pid, m.messageId);
    const owner = this.#layer.unacked.get(mk);
    if (owner === undefined) {
      if (m.type === RST) this.#server.onStrayReset(mk, out);
      return; // a late or stray ACK/RST: nothing to do
    }
    if (!isClientExchange(owner)) {
      this.#server.onAckOrReset(owner, mk, m, out); // a separate response or a notification of ours
      return;
    }
    const ex = owner;
    if (ex.flight === undefined || ex.flight.mid !== m.messageId) return;
    if (m.type === ACK && !ex.flight.confirmable) return; // §4.3: a NON is never acknowledged
    if (m.type === ACK && m.code !== 0 && !ex.ping && !sameBytes(m.token, ex.token)) return; // §5.3.2: not our response
    this.#layer.unacked.delete(mk);
    ex.flight.deadline = undefined;
    if (m.type === RST) {
      if (ex.ping) this.#finish(ex, out, { type: PONG, id: ex.id });
      // A refused deregistration ends the observation as asked; anything else was reset
      // (a refused re-registration: the server no longer knows us).
      else this.#fail(ex, out, ex.state === CANCELLING ? "cancelled" : "reset");
      return;
    }
    if (ex.ping) {
      // An empty ACK to an empty CON is not a pong, but proves the peer is alive.
      this.#finish(ex, out, { type: PONG, id: ex.id });
      return;
    }
    if (m.code === 0) {
      // §5.2.2: empty ACK, the response will come separately.
      ex.responseDeadline = now + this.#o.responseTimeoutMs;
      return;
    }
    ex.flight = undefined; // settled above: #onResponse has nothing left to undo
    this.#onResponse(ex, m, now, out);
  }

  #onTimer(now: number, out: EndpointAction[]): void {
    for (const ex of [...this.#clients.values()]) {
      const f = ex.flight;
      if (f !== undefined) {
        const step = this.#layer.due(f, now);
        if (step === RESEND) this.#layer.send(ex.peer, f.wire, out);
        else if (step === EXPIRED) {
          this.#layer.unacked.delete(midKey(ex.peerEntry.id, f.mid));
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
        // RFC 7641 §3.3.1: same token, so the new registration replaces the old one;
        // the server's answer restarts the freshness check (it may have restarted).
        ex.reregisterAt = undefined;
        ex.acceptNext = true;
        this.#sendRequest(ex, now, out);
      }
    }
    this.#server.onTimer(now, out);
  }

  #onExchangeTimeout(ex: ClientExchange, now: number, out: EndpointAction[]): void {
    if (ex.state === OBSERVING) {
      // A re-registration went unanswered: keep the observation and try again later.
      ex.responseDeadline = undefined;
      ex.reregisterAt = now + DEFAULT_MAX_AGE_MS;
      return;
    }
    this.#fail(ex, out, ex.state === CANCELLING ? "cancelled" : "timeout");
  }

  // -------------------------------------------------------------------------
  // Client exchanges: start, queue (NSTART), send, answer, finish

  #token(): Uint8Array {
    const t = new Uint8Array(this.#o.tokenLength);
    for (let i = 0; i < t.length; i++) t[i] = Math.floor(this.#o.random() * 256) & 0xff;
    return t;
  }

  /** `token`, counted up until no exchange with the peer `pid` uses it (bounded); undefined when none is free. */
  #uniqueToken(pid: number, token: Uint8Array, tries: number): Uint8Array | undefined {
    for (let n = 0; n < tries && token.length > 0 && this.#byToken.has(pid, token); n++) {
      token = token.slice();
      for (let k = token.length - 1; k >= 0 && ++token[k] === 0; k--);
    }
    return this.#byToken.has(pid, token) ? undefined : token;
  }

  #startRequest(
    event: { type: "request"; id: number; peer: Peer; request: RequestSpec } | { type: "ping"; id: number; peer: Peer },
    now: number,
    out: EndpointAction[],
  ): void {
    const ping = event.type === PING;
    const spec: RequestSpec = event.type === REQUEST ? event.request : { method: 0 };
    const entry = this.#clients.size < this.#o.maxExchanges ? this.#peerEntry(event.peer.address, event.peer.port, event.peer, now) : undefined;
    if (entry === undefined) {
      this.#refuse(event.id, out); // the exchange table or the peer table (maxPeers) is full
      return;
    }
    const pid = entry.id;
    let token: Uint8Array | undefined = spec.token ?? (ping ? EMPTY : this.#token());
    if (!ping) {
      for (let tries = 0; tries < 4 && this.#byToken.has(pid, token); tries++) token = this.#token();
      // A weak random source: count the token up until it is unique (bounded).
      token = this.#uniqueToken(pid, token, 64);
      if (token === undefined) {
        this.#refuse(event.id, out);
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
      peer: entry.peer,
      peerEntry: entry,
      spec,
      token,
      state: QUEUED,
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
    const waits = entry.active >= this.#o.nstart;
    if (waits && this.#queued >= this.#o.maxQueued) {
      this.#refuse(event.id, out);
      return;
    }
    this.#clients.set(ex.id, ex);
    if (!ping) this.#byToken.add(ex);
    if (waits) this.#queued++; // §4.7: it starts when a slot to this peer is free
    else this.#activate(ex, now, out);
  }

  #activate(ex: ClientExchange, now: number, out: EndpointAction[]): void {
    ex.state = ACTIVE;
    ex.holdsSlot = true;
    ex.peerEntry.active++;
    if (ex.ping) this.#transmit(ex, emptyMessage(CON, this.#layer.mid()), now, out);
    else this.#sendRequest(ex, now, out);
  }

  #releaseSlot(ex: ClientExchange, now: number, out: EndpointAction[]): void {
    if (!ex.holdsSlot) return;
    ex.holdsSlot = false;
    ex.peerEntry.active--;
    // §4.7: the next queued request to this peer may start now.
    for (const q of this.#clients.values()) {
      if (q.state !== QUEUED || q.peerEntry !== ex.peerEntry) continue;
      this.#queued--;
      this.#activate(q, now, out);
      break;
    }
  }

  /** Builds the request message for the exchange's current step (blockwise.ts) and sends it. */
  #sendRequest(ex: ClientExchange, now: number, out: EndpointAction[]): void {
    const { options, payload } = nextRequest(ex);
    const confirmable = ex.spec.confirmable !== false || ex.state === CANCELLING;
    const m: CoapMessage = { type: confirmable ? CON : NON, code: ex.spec.method, messageId: this.#layer.mid(), token: ex.token, options, payload };
    this.#transmit(ex, m, now, out);
  }

  #transmit(ex: ClientExchange, m: CoapMessage, now: number, out: EndpointAction[]): void {
    const layer = this.#layer;
    if (ex.flight !== undefined) layer.unacked.delete(midKey(ex.peerEntry.id, ex.flight.mid));
    const f = layer.flight(m, now);
    ex.flight = f;
    // NON too: a peer may answer a NON request with RST (§4.3).
    layer.unacked.set(midKey(ex.peerEntry.id, m.messageId), ex);
    ex.responseDeadline = f.confirmable ? undefined : now + this.#o.responseTimeoutMs;
    layer.send(ex.peer, f.wire, out);
  }

  #onResponse(ex: ClientExchange, m: CoapMessage, now: number, out: EndpointAction[]): void {
    // Any response settles the request in flight (§5.2.2: it implies the ACK).
    if (ex.flight !== undefined) {
      this.#layer.unacked.delete(midKey(ex.peerEntry.id, ex.flight.mid));
      ex.flight.deadline = undefined;
    }
    ex.responseDeadline = undefined;
    if (ex.state === QUEUED) return;
    if (ex.state === CANCELLING) {
      this.#fail(ex, out, "cancelled");
      return;
    }
    if (ex.spec.observe && ex.b2Offset === 0) {
      this.#onObserveResponse(ex, m, now, out);
      return;
    }
    if (ex.upload !== undefined) {
      const step = acceptBlock1(ex, m);
      if (step === NEXT) this.#sendRequest(ex, now, out);
      if (step === BLOCK_MISMATCH) this.#fail(ex, out, step);
      if (step !== DONE) return;
    }
    const step = acceptBlock2(ex, m, this.#o.maxBodyBytes, out);
    if (step === WHOLE) this.#deliverFinal(ex, m, out);
    else if (step === NEXT) this.#sendRequest(ex, now, out);
    else if (step === LAST && ex.spec.stream) this.#finish(ex, out, { type: RESPONSE, id: ex.id, response: m });
    else if (step === LAST) this.#deliverFinal(ex, { ...m, payload: concat(ex.b2Chunks, ex.b2Length) }, out);
    else this.#fail(ex, out, step);
  }

  #deliverFinal(ex: ClientExchange, m: CoapMessage, out: EndpointAction[]): void {
    if (ex.spec.stream) {
      out.push({ type: BLOCK, id: ex.id, offset: 0, data: m.payload, more: false, response: m });
    }
    this.#finish(ex, out, { type: RESPONSE, id: ex.id, response: m });
  }

  #onObserveResponse(ex: ClientExchange, m: CoapMessage, now: number, out: EndpointAction[]): void {
    const seq = optionUint(m, Option.Observe);
    if (seq === undefined || codeClass(m.code) !== 2) {
      // RFC 7641 §3.2: no Observe option: the server did not (or no longer does) register us.
      this.#finish(ex, out, { type: RESPONSE, id: ex.id, response: m });
      return;
    }
    if (ex.state === ACTIVE) {
      ex.state = OBSERVING;
      this.#releaseSlot(ex, now, out);
    }
    if (!isFresh(ex, seq, now)) return; // §3.4: stale, dropped
    ex.acceptNext = false;
    ex.lastSeq = seq;
    ex.lastSeqAt = now;
    ex.reregisterAt = reregisterAt(m, now, this.#o.reregisterMarginMs);
    const b2 = optionBlock(m, Option.Block2);
    if (b2 !== undefined && b2.num === 0 && b2.more && m.payload.length === blockSize(b2.szx)) {
      this.#fetchRest(ex, m, b2.szx, now, out);
      return;
    }
    out.push({ type: NOTIFICATION, id: ex.id, response: m });
  }

  /**
   * RFC 7959 §2.6 (with RFC 7641): a notification bigger than one block came as
   * block 0; GET the rest on a token of its own (observe.ts) and deliver the whole
   * body as the notification. A newer notification replaces the fetch.
   */
  #fetchRest(parent: ClientExchange, m: CoapMessage, szx: number, now: number, out: EndpointAction[]): void {
    if (parent.child !== undefined) this.#finish(parent.child, out, undefined);
    const token = this.#uniqueToken(parent.peerEntry.id, this.#token(), 64);
    if (token === undefined) return; // cannot fetch: this notification is lost, the next may not be
    const id = this.#nextInternalId;
    this.#nextInternalId = id <= -0x7fffffff ? -1 : id - 1;
    const child = notificationFetch(parent, m, szx, id, token);
    parent.child = child;
    this.#clients.set(id, child);
    this.#byToken.add(child);
    this.#activate(child, now, out);
  }

  #cancel(id: number, passive: boolean, now: number, out: EndpointAction[]): void {
    const ex = this.#clients.get(id);
    if (ex === undefined) return;
    if (ex.state === OBSERVING && !passive) {
      // RFC 7641 §3.6: a GET with Observe=1 and the same token deregisters.
      ex.state = CANCELLING;
      ex.reregisterAt = undefined;
      ex.b2Offset = 0;
      this.#sendRequest(ex, now, out);
      return;
    }
    // Passive (§3.6): forget the token; the next notification gets RST.
    this.#fail(ex, out, "cancelled");
  }

  #finish(ex: ClientExchange, out: EndpointAction[], final: EndpointAction | undefined): void {
    if (this.#clients.get(ex.id) !== ex) return;
    this.#clients.delete(ex.id);
    if (!ex.ping) this.#byToken.delete(ex);
    if (ex.flight !== undefined) this.#layer.unacked.delete(midKey(ex.peerEntry.id, ex.flight.mid));
    if (ex.state === QUEUED) this.#queued--;
    if (ex.child !== undefined) this.#finish(ex.child, out, undefined); // the observation ended: drop its fetch
    const parent = ex.parent;
    if (parent !== undefined) {
      // A notification's body is complete: deliver it as the notification (with its Observe option).
      if (parent.child === ex) parent.child = undefined;
      if (final !== undefined && final.type === RESPONSE && ex.template !== undefined && this.#clients.get(parent.id) === parent) {
        out.push({ type: NOTIFICATION, id: parent.id, response: { ...ex.template, payload: final.response.payload } });
      }
    } else if (final !== undefined) out.push(final);
    this.#releaseSlot(ex, this.#now, out);
  }

  /** Ends `ex` with a failure (a cold path: its code may be a literal). */
  #fail(ex: ClientExchange, out: EndpointAction[], code: ExchangeFailure): void {
    this.#finish(ex, out, { type: FAILED, id: ex.id, code });
  }

  /** A request that cannot start: the exchange, queue, token or peer table is full. */
  #refuse(id: number, out: EndpointAction[]): void {
    out.push({ type: FAILED, id, code: "queue-full" });
  }

  // -------------------------------------------------------------------------
  // Peers (peers.ts)

  /** The table entry of a peer, added if new; undefined when the table is full of busy peers (maxPeers). */
  #peerEntry(address: string, port: number, given: Peer | undefined, now: number): PeerEntry | undefined {
    let e = this.#peers.find(address, port);
    if (e === undefined) {
      if (this.#peers.full && !this.#evictIdlePeer()) return undefined;
      e = this.#peers.add(given ?? { address, port }, now);
    }
    e.lastUsed = now;
    return e;
  }

  /**
   * Forgets the least recently used peer that nothing waits on — no client exchange,
   * no request being answered, no CON of ours unacknowledged — with its duplicate
   * table entries (§4.5: a duplicate from it is then new); false when all are busy.
   */
  #evictIdlePeer(): boolean {
    let victim: PeerEntry | undefined;
    for (const e of this.#peers.entries) {
      if (e === undefined || (victim !== undefined && victim.lastUsed <= e.lastUsed) || this.#peerBusy(e)) continue;
      victim = e;
    }
    if (victim === undefined) return false;
    this.#layer.forgetPeer(victim.id);
    this.#server.forgetPeer(victim.id);
    this.#peers.remove(victim);
    return true;
  }

  #peerBusy(e: PeerEntry): boolean {
    for (const ex of this.#clients.values()) if (ex.peerEntry === e) return true;
    return this.#server.uses(e.id);
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
