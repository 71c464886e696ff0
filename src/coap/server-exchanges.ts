/**
 * The server half of the endpoint: requests we answer and notifications we send.
 * - A request becomes an `incoming` action; the application answers with a
 *   `respond` event. Within `piggybackWindowMs` the response rides in the ACK
 *   (§5.2.1); after it an empty ACK goes out first and the response follows as a
 *   CON of its own (§5.2.2). A NON request gets a NON response (§5.2.3). More
 *   than `maxServerExchanges` waiting: 5.03 with Max-Age 1.
 * - No-Response (RFC 7967) suppresses the classes the client does not want.
 * - Notifications (RFC 7641 §4.2) go out with the `notify` event; a newer CON
 *   notification replaces an unacknowledged older one to the same observer
 *   (§4.5). An RST to one, or a CON notification never acknowledged, reports
 *   `observer-gone` (§3.6, §4.5).
 */
import { Option, ResponseCode, codeClass, encodeMessage, encodeUint, optionUint, type CoapMessage } from "./codec.js";
import type { ClientExchange, EndpointAction, OutgoingCon, Peer, ResolvedOptions, ResponseSpec, ServerExchange } from "./endpoint-types.js";
import { isClientExchange, midKey, peerOfMidKey, sameBytes, type MessageLayer } from "./message-layer.js";
import { ACK, CON, EXPIRED, INCOMING, NON, OBSERVER_GONE, RESEND, RST } from "./names.js";

const EMPTY = new Uint8Array(0);
/** Recent NON notifications remembered, so an RST to one can name its observer. */
const MAX_NON_SENT = 64;

export class ServerExchanges {
  readonly #layer: MessageLayer;
  readonly #o: ResolvedOptions;
  readonly #servers = new Map<number, ServerExchange>();
  #nextId = 1;
  /** Recent NON notifications by `midKey` (bounded). */
  readonly #nonSent = new Map<number, { peer: Peer; token: Uint8Array }>();

  constructor(layer: MessageLayer, o: ResolvedOptions) {
    this.#layer = layer;
    this.#o = o;
  }

  /** A new request from `peer` (id `pid`, peers.ts; `dk`: its duplicate-detection key). */
  onRequest(peer: Peer, pid: number, m: CoapMessage, dk: number, now: number, out: EndpointAction[]): void {
    if (this.#servers.size >= this.#o.maxServerExchanges) {
      const busy = { code: ResponseCode.ServiceUnavailable, options: [{ number: Option.MaxAge, value: encodeUint(1) }] };
      this.#sendResponse(peer, pid, m, dk, false, busy, now, out);
      return;
    }
    const id = this.#nextId;
    this.#nextId = (id % 0x7fffffff) + 1;
    this.#servers.set(id, {
      id,
      peer,
      pid,
      request: m,
      dedupKey: dk,
      deadline: now + (m.type === CON ? this.#o.piggybackWindowMs : this.#o.responseTimeoutMs),
      separate: false,
    });
    out.push({ type: INCOMING, exchange: id, peer, request: m });
  }

  respond(id: number, response: ResponseSpec, now: number, out: EndpointAction[]): void {
    const s = this.#servers.get(id);
    if (s === undefined) return; // answered already, or unknown
    this.#servers.delete(id);
    this.#sendResponse(s.peer, s.pid, s.request, s.dedupKey, s.separate, response, now, out);
  }

  /** A notification to `peer` (id `pid`). */
  notify(peer: Peer, pid: number, token: Uint8Array, r: ResponseSpec, confirmable: boolean, now: number, out: EndpointAction[]): void {
    const layer = this.#layer;
    const m: CoapMessage = {
      type: confirmable ? CON : NON,
      code: r.code,
      messageId: layer.mid(),
      token,
      options: r.options ?? [],
      payload: r.payload ?? EMPTY,
    };
    const key = midKey(pid, m.messageId);
    if (confirmable) {
      // RFC 7641 §4.5: a newer notification replaces an unacknowledged older one to the same observer.
      for (const [k, o] of layer.unacked) {
        if (!isClientExchange(o) && o.notification && o.pid === pid && sameBytes(o.token, token)) layer.unacked.delete(k);
      }
      const f = layer.flight(m, now);
      layer.unacked.set(key, { peer, pid, token, flight: f, notification: true });
      layer.send(peer, f.wire, out);
      return;
    }
    if (this.#nonSent.size >= MAX_NON_SENT) {
      const oldest = this.#nonSent.keys().next().value;
      if (oldest !== undefined) this.#nonSent.delete(oldest);
    }
    this.#nonSent.set(key, { peer, token });
    layer.send(peer, encodeMessage(m), out);
  }

  /** An ACK or RST for one of our CONs (`mk` its key in `unacked`). */
  onAckOrReset(owner: OutgoingCon, mk: number, m: CoapMessage, out: EndpointAction[]): void {
    this.#layer.unacked.delete(mk);
    if (m.type === RST && owner.notification) out.push({ type: OBSERVER_GONE, peer: owner.peer, token: owner.token });
  }

  /** An RST that matches none of our CONs: was it for a NON notification? */
  onStrayReset(mk: number, out: EndpointAction[]): void {
    const non = this.#nonSent.get(mk);
    if (non === undefined) return;
    this.#nonSent.delete(mk);
    out.push({ type: OBSERVER_GONE, peer: non.peer, token: non.token });
  }

  /** Whether a request from the peer with id `pid` waits for an answer, or a CON of ours to it for its ACK (it cannot be forgotten). */
  uses(pid: number): boolean {
    for (const s of this.#servers.values()) if (s.pid === pid) return true;
    for (const o of this.#layer.unacked.values()) if (!isClientExchange(o) && o.pid === pid) return true;
    return false;
  }

  /** Forgets the NON notifications sent to the peer with id `pid` (its id goes to another peer). */
  forgetPeer(pid: number): void {
    for (const mk of [...this.#nonSent.keys()]) if (peerOfMidKey(mk) === pid) this.#nonSent.delete(mk);
  }

  onTimer(now: number, out: EndpointAction[]): void {
    const layer = this.#layer;
    for (const [mk, o] of [...layer.unacked]) {
      if (isClientExchange(o)) continue; // endpoint.ts
      const step = layer.due(o.flight, now);
      if (step === RESEND) layer.send(o.peer, o.flight.wire, out);
      else if (step === EXPIRED) {
        layer.unacked.delete(mk);
        if (o.notification) out.push({ type: OBSERVER_GONE, peer: o.peer, token: o.token });
      }
    }
    for (const s of [...this.#servers.values()]) {
      if (s.deadline === undefined || s.deadline > now) continue;
      if (s.separate || s.request.type === NON) {
        this.#servers.delete(s.id); // the application never answered: forget it
        continue;
      }
      // §5.2.2: the application is slow; acknowledge now, respond separately later.
      s.deadline = now + this.#o.responseTimeoutMs;
      s.separate = true;
      layer.replyEmpty(s.peer, ACK, s.request.messageId, s.dedupKey, out);
    }
  }

  /** The earliest deadline of the server side (absolute ms), or undefined. */
  nextDeadline(): number | undefined {
    // forEach with callbacks made once: a for…of over a Map made an iterator and a result per
    // entry at every datagram (garbage on XS)
    this.#earliest = undefined;
    this.#servers.forEach(this.#visitServer);
    this.#layer.unacked.forEach(this.#visitUnacked);
    return this.#earliest;
  }

  /** nextDeadline()'s running minimum, and its callbacks. */
  #earliest: number | undefined;
  readonly #visitServer = (s: ServerExchange): void => this.#consider(s.deadline);
  readonly #visitUnacked = (o: ClientExchange | OutgoingCon): void => {
    if (!isClientExchange(o)) this.#consider(o.flight.deadline);
  };
  #consider(d: number | undefined): void {
    if (d !== undefined && (this.#earliest === undefined || d < this.#earliest)) this.#earliest = d;
  }

  #sendResponse(peer: Peer, pid: number, req: CoapMessage, dk: number, separate: boolean, r: ResponseSpec, now: number, out: EndpointAction[]): void {
    const layer = this.#layer;
    // RFC 7967 §2: No-Response suppresses classes the client is not interested in.
    const nr = optionUint(req, Option.NoResponse);
    const cls = codeClass(r.code);
    const suppressed = nr !== undefined && ((cls === 2 && (nr & 2) !== 0) || (cls === 4 && (nr & 8) !== 0) || (cls === 5 && (nr & 16) !== 0));
    const base = { code: r.code, token: req.token, options: r.options ?? [], payload: r.payload ?? EMPTY };
    if (req.type === CON && !separate) {
      if (suppressed) layer.replyEmpty(peer, ACK, req.messageId, dk, out);
      else layer.reply(peer, { type: ACK, messageId: req.messageId, ...base }, dk, out); // §5.2.1 piggybacked
      return;
    }
    if (suppressed) return;
    if (req.type === NON) {
      // §5.2.3: a NON request gets a NON response.
      layer.send(peer, encodeMessage({ type: NON, messageId: layer.mid(), ...base }), out);
      return;
    }
    // §5.2.2: separate response, as a CON of its own.
    const m: CoapMessage = { type: CON, messageId: layer.mid(), ...base };
    const f = layer.flight(m, now);
    layer.unacked.set(midKey(pid, f.mid), { peer, pid, token: req.token, flight: f, notification: false });
    layer.send(peer, f.wire, out);
  }
}
