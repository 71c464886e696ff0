/**
 * CoAP under 30% datagram loss, both ways, in simulated time.
 *
 * Two real `CoapEndpoint` cores (src/coap/endpoint.ts) — a client and a
 * server — joined by an in-memory "wire" that drops each datagram with
 * probability `loss` in each direction and delays the others by 5..50 ms.
 * Time is a number: the loop jumps to the earliest of the endpoints'
 * `nextDeadline()`, the next datagram arrival and the next application event
 * (aioquic-style fake clock), so minutes of protocol time take milliseconds.
 *
 * Load: `requests` CON GETs, one after another (NSTART 1, RFC 7252 §4.7); a
 * request that fails after MAX_RETRANSMIT (§4.2: with 30% loss each way an
 * exchange succeeds per attempt with p = 0.49, so ~3.5% of exchanges time
 * out after 5 transmissions) is retried by the application, up to
 * `maxAttempts`. Meanwhile an Observe registration (RFC 7641) on /obs gets a
 * notification every `notifyEveryMs`, CON every 4th and NON otherwise, with
 * Max-Age so the client re-registers after losing the server (§3.3.1).
 *
 * Checked: every request completes (response payload = its path), the
 * notifications the app sees have strictly increasing Observe numbers (in
 * order, no duplicates, §3.4), and the endpoints' tables stay bounded.
 */
import { Method, Option, ResponseCode, encodeUint, optionUint, pathOptions, type CoapMessage } from "../src/coap/codec.js";
import { CoapEndpoint, type EndpointAction, type Peer } from "../src/coap/endpoint.js";
import { decodeUtf8, encodeUtf8 } from "../src/util/utf8.js";
import { seededRandom as mulberry } from "../src/util/prng.js";

export interface CoapLossOptions {
  requests: number;
  /** Observe for at least this long (simulated ms). Default 300,000 (5 minutes). */
  observeMs?: number;
  loss?: number;
  seed?: number;
  notifyEveryMs?: number;
  maxAttempts?: number;
}

export interface CoapLossResult {
  requests: number;
  completed: number;
  firstAttemptOk: number;
  retries: number;
  /** Requests that still failed after maxAttempts. */
  failed: number;
  wrongPayload: number;
  notificationsSent: number;
  notificationsDelivered: number;
  outOfOrder: number;
  duplicates: number;
  registrations: number;
  datagramsSent: number;
  datagramsDropped: number;
  simulatedMs: number;
  maxClientExchanges: number;
  /** Simulated ms from a request's first send to its response: p50/p99. */
  latencyP50: number;
  latencyP99: number;
}


export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const s = values.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const CLIENT: Peer = Object.freeze({ address: "10.0.0.2", port: 40000 });
const SERVER: Peer = Object.freeze({ address: "10.0.0.1", port: 5683 });
const OBSERVE_ID = 1_000_000;

export function runCoapLoss(o: CoapLossOptions): CoapLossResult {
  const loss = o.loss ?? 0.3;
  const observeMs = o.observeMs ?? 300_000;
  const notifyEveryMs = o.notifyEveryMs ?? 1000;
  const maxAttempts = o.maxAttempts ?? 10;
  const wireRandom = mulberry(o.seed ?? 1);
  const client = new CoapEndpoint({ random: mulberry((o.seed ?? 1) + 1) });
  const server = new CoapEndpoint({ random: mulberry((o.seed ?? 1) + 2) });
  const r: CoapLossResult = {
    requests: o.requests, completed: 0, firstAttemptOk: 0, retries: 0, failed: 0, wrongPayload: 0, notificationsSent: 0,
    notificationsDelivered: 0, outOfOrder: 0, duplicates: 0, registrations: 0, datagramsSent: 0, datagramsDropped: 0,
    simulatedMs: 0, maxClientExchanges: 0, latencyP50: 0, latencyP99: 0,
  };
  const latencies: number[] = [];
  // the wire: datagrams in flight, by arrival time
  const wire: { at: number; to: "client" | "server"; data: Uint8Array }[] = [];
  let now = 0;
  // client application state
  let current = 0; // request index in flight (0-based), or -1 when done
  let attempt = 0;
  let startedAt = 0;
  let nextId = 1;
  const idToRequest = new Map<number, number>();
  let lastObserveSeq = -1;
  // server application state
  const observers = new Map<string, { peer: Peer; token: Uint8Array }>();
  let notifySeq = 1;
  let nextNotifyAt = notifyEveryMs;
  let steps = 0;

  const send = (from: "client" | "server", data: Uint8Array) => {
    r.datagramsSent++;
    if (wireRandom() < loss) {
      r.datagramsDropped++;
      return;
    }
    wire.push({ at: now + 5 + Math.floor(wireRandom() * 45), to: from === "client" ? "server" : "client", data });
  };

  const issue = () => {
    if (current >= o.requests) return;
    const id = nextId++;
    idToRequest.set(id, current);
    attempt++;
    if (attempt === 1) startedAt = now;
    runClient(client.handle({ type: "request", id, peer: SERVER, request: { method: Method.GET, options: pathOptions(`/r/${current}`) } }, now));
  };

  const runClient = (actions: EndpointAction[]) => {
    for (const a of actions) {
      switch (a.type) {
        case "send":
          send("client", a.data);
          break;
        case "response": {
          const k = idToRequest.get(a.id);
          idToRequest.delete(a.id);
          if (k === undefined || k !== current) break;
          const text = decodeUtf8(a.response.payload);
          if (text !== `/r/${k}`) r.wrongPayload++;
          r.completed++;
          if (attempt === 1) r.firstAttemptOk++;
          latencies.push(now - startedAt);
          current++;
          attempt = 0;
          issue();
          break;
        }
        case "failed": {
          if (a.id === OBSERVE_ID) break; // the observation is re-made below
          const k = idToRequest.get(a.id);
          idToRequest.delete(a.id);
          if (k === undefined || k !== current) break;
          if (attempt >= maxAttempts) {
            r.failed++;
            current++;
            attempt = 0;
          } else r.retries++;
          issue();
          break;
        }
        case "notification": {
          if (a.id !== OBSERVE_ID) break;
          const seq = optionUint(a.response, Option.Observe);
          if (seq === undefined) break; // a final response: the observation ended
          r.notificationsDelivered++;
          if (seq === lastObserveSeq) r.duplicates++;
          else if (seq < lastObserveSeq) r.outOfOrder++;
          lastObserveSeq = Math.max(lastObserveSeq, seq);
          break;
        }
        default:
          break;
      }
    }
  };

  const respond = (exchange: number, request: CoapMessage, peer: Peer) => {
    const path = "/" + request.options.filter((x) => x.number === Option.UriPath).map((x) => decodeUtf8(x.value) as string).join("/");
    if (path === "/obs" && optionUint(request, Option.Observe) === 0) {
      r.registrations++;
      observers.set(`${peer.address}:${peer.port}`, { peer, token: request.token });
      return server.handle({ type: "respond", exchange, response: { code: ResponseCode.Content, options: [{ number: Option.Observe, value: encodeUint(notifySeq++) }, { number: Option.MaxAge, value: encodeUint(5) }], payload: encodeUtf8("obs") } }, now);
    }
    return server.handle({ type: "respond", exchange, response: { code: ResponseCode.Content, payload: encodeUtf8(path) } }, now);
  };

  const runServer = (actions: EndpointAction[]) => {
    const queue = actions.slice();
    for (let a = queue.shift(); a !== undefined; a = queue.shift()) {
      if (a.type === "send") send("server", a.data);
      else if (a.type === "incoming") queue.push(...respond(a.exchange, a.request, a.peer));
      else if (a.type === "observer-gone") observers.delete(`${a.peer.address}:${a.peer.port}`);
    }
  };

  // start: the observation, then the first request
  runClient(client.handle({ type: "request", id: OBSERVE_ID, peer: SERVER, request: { method: Method.GET, options: pathOptions("/obs"), observe: true } }, now));
  issue();

  const endAt = () => (current >= o.requests && now >= observeMs ? now : Infinity);
  const hardLimit = 50_000_000; // loop steps: every loop is bounded
  while (now < endAt() && steps++ < hardLimit) {
    let next = Infinity;
    const cd = client.nextDeadline();
    const sd = server.nextDeadline();
    if (cd !== undefined) next = Math.min(next, cd);
    if (sd !== undefined) next = Math.min(next, sd);
    for (const w of wire) next = Math.min(next, w.at);
    next = Math.min(next, nextNotifyAt);
    if (current >= o.requests) next = Math.min(next, Math.max(now, observeMs));
    if (next === Infinity) break;
    now = Math.max(now, next);
    // deliver datagrams due
    for (let k = 0; k < wire.length; ) {
      const w = wire[k];
      if (w.at <= now) {
        wire.splice(k, 1);
        if (w.to === "server") runServer(server.handle({ type: "datagram", peer: CLIENT, data: w.data }, now));
        else runClient(client.handle({ type: "datagram", peer: SERVER, data: w.data }, now));
      } else k++;
    }
    if (cd !== undefined && cd <= now) runClient(client.handle({ type: "timer" }, now));
    if (sd !== undefined && sd <= now) runServer(server.handle({ type: "timer" }, now));
    if (nextNotifyAt <= now) {
      nextNotifyAt = now + notifyEveryMs;
      for (const ob of observers.values()) {
        r.notificationsSent++;
        const seq = notifySeq++;
        runServer(server.handle({ type: "notify", peer: ob.peer, token: ob.token, confirmable: seq % 4 === 0, response: { code: ResponseCode.Content, options: [{ number: Option.Observe, value: encodeUint(seq) }, { number: Option.MaxAge, value: encodeUint(5) }], payload: encodeUtf8(String(seq)) } }, now));
      }
    }
    r.maxClientExchanges = Math.max(r.maxClientExchanges, client.exchangeCount);
  }
  r.simulatedMs = now;
  r.latencyP50 = percentile(latencies, 50);
  r.latencyP99 = percentile(latencies, 99);
  return r;
}
