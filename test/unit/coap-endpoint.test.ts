import { describe, expect, test } from "vitest";
import {
  Method,
  Option,
  ResponseCode,
  code,
  decodeBlock,
  decodeMessage,
  encodeBlock,
  encodeMessage,
  encodeUint,
  optionBlock,
  optionUint,
  pathOptions,
  type CoapMessage,
  type CoapOption,
} from "../../src/coap/codec.js";
import { CoapEndpoint, type EndpointAction, type EndpointOptions, type Peer } from "../../src/coap/endpoint.js";

const SERVER: Peer = { address: "10.0.0.1", port: 5683 };
const CLIENT: Peer = { address: "10.0.0.2", port: 40000 };
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** An endpoint whose random source always returns `r` (jitter = 1 + r × 0.5). */
function endpoint(extra: Partial<EndpointOptions> = {}, r = 0.5): CoapEndpoint {
  return new CoapEndpoint({ random: () => r, ...extra });
}
function sent(actions: EndpointAction[]): CoapMessage[] {
  return actions.filter((a) => a.type === "send").map((a) => decodeMessage((a as { data: Uint8Array }).data));
}
function app(actions: EndpointAction[]): EndpointAction[] {
  return actions.filter((a) => a.type !== "send");
}
function reply(to: CoapMessage, m: Partial<CoapMessage>): Uint8Array {
  return encodeMessage({ type: "ACK", code: ResponseCode.Content, messageId: to.messageId, token: to.token, options: [], payload: new Uint8Array(0), ...m });
}
function dgram(data: Uint8Array, peer = SERVER) {
  return { type: "datagram" as const, peer, data };
}
function get(id: number, path: string, extra: Record<string, unknown> = {}) {
  return { type: "request" as const, id, peer: SERVER, request: { method: Method.GET, options: pathOptions(path), ...extra } };
}

describe("message layer (RFC 7252 §4)", () => {
  test("an unanswered CON is retransmitted at ACK_TIMEOUT×(1+r/2), doubling, MAX_RETRANSMIT times, then times out", () => {
    const ep = endpoint(); // r = 0.5: first timeout 2000 × 1.25 = 2500 ms
    let now = 0;
    const [req] = sent(ep.handle(get(1, "/a"), now));
    expect(req.type).toBe("CON");
    const times: number[] = [];
    for (let k = 0; k < 4; k++) {
      now = ep.nextDeadline()!;
      times.push(now);
      const again = sent(ep.handle({ type: "timer" }, now));
      expect(again[0].messageId).toBe(req.messageId);
    }
    expect(times).toEqual([2500, 7500, 17500, 37500]);
    now = ep.nextDeadline()!;
    expect(now).toBe(77500);
    expect(ep.handle({ type: "timer" }, now)).toEqual([{ type: "failed", id: 1, code: "timeout" }]);
    expect(ep.nextDeadline()).toBeUndefined();
  });

  test("MAX_RETRANSMIT, ACK_TIMEOUT and the random factor are options", () => {
    const ep = endpoint({ ackTimeoutMs: 100, maxRetransmit: 1, ackRandomFactor: 2 }, 0);
    ep.handle(get(1, "/a"), 0);
    expect(ep.nextDeadline()).toBe(100);
    ep.handle({ type: "timer" }, 100);
    expect(ep.nextDeadline()).toBe(300);
    expect(app(ep.handle({ type: "timer" }, 300))).toEqual([{ type: "failed", id: 1, code: "timeout" }]);
  });

  test("a piggybacked response completes the exchange and stops retransmission", () => {
    const ep = endpoint();
    const [req] = sent(ep.handle(get(1, "/a"), 0));
    const acts = ep.handle(dgram(reply(req, { payload: text("22.5") })), 10);
    expect(acts).toHaveLength(1);
    const r = acts[0] as Extract<EndpointAction, { type: "response" }>;
    expect(r.type).toBe("response");
    expect(str(r.response.payload)).toBe("22.5");
    expect(ep.nextDeadline()).toBeUndefined();
  });

  test("an ACK with someone else's token is not our response (§5.3.2)", () => {
    const ep = endpoint();
    const [req] = sent(ep.handle(get(1, "/a"), 0));
    expect(ep.handle(dgram(reply(req, { token: Uint8Array.of(9, 9) })), 10)).toEqual([]);
    expect(ep.nextDeadline()).toBe(2500);
  });

  test("separate response: an empty ACK stops retransmission, the CON response is ACKed and delivered once", () => {
    const ep = endpoint();
    const [req] = sent(ep.handle(get(1, "/a"), 0));
    expect(ep.handle(dgram(encodeMessage({ type: "ACK", code: 0, messageId: req.messageId, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) })), 100)).toEqual([]);
    expect(ep.nextDeadline()).toBe(100 + 93_000); // waiting for the response, not retransmitting
    const con = encodeMessage({ type: "CON", code: ResponseCode.Content, messageId: 777, token: req.token, options: [], payload: text("late") });
    const first = ep.handle(dgram(con), 5000);
    expect(sent(first)).toMatchObject([{ type: "ACK", code: 0, messageId: 777 }]);
    expect(app(first)).toMatchObject([{ type: "response", id: 1 }]);
    const dup = ep.handle(dgram(con), 6000); // our ACK was lost; the server retransmits
    expect(sent(dup)).toMatchObject([{ type: "ACK", messageId: 777 }]);
    expect(app(dup)).toEqual([]);
  });

  test("after the empty ACK, a response that never comes fails the exchange with timeout", () => {
    const ep = endpoint({ responseTimeoutMs: 5000 });
    const [req] = sent(ep.handle(get(1, "/a"), 0));
    ep.handle(dgram(encodeMessage({ type: "ACK", code: 0, messageId: req.messageId, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) })), 100);
    expect(ep.handle({ type: "timer" }, ep.nextDeadline()!)).toEqual([{ type: "failed", id: 1, code: "timeout" }]);
  });

  test("RST to a request fails it with reset; RST to a ping is the pong", () => {
    const ep = endpoint();
    const [req] = sent(ep.handle(get(1, "/a"), 0));
    const rst = (mid: number) => encodeMessage({ type: "RST", code: 0, messageId: mid, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) });
    expect(ep.handle(dgram(rst(req.messageId)), 5)).toEqual([{ type: "failed", id: 1, code: "reset" }]);
    const [ping] = sent(ep.handle({ type: "ping", id: 2, peer: SERVER }, 10));
    expect(ping).toMatchObject({ type: "CON", code: 0 });
    expect(ping.token.length).toBe(0);
    expect(ep.handle(dgram(rst(ping.messageId)), 20)).toEqual([{ type: "pong", id: 2 }]);
  });

  test("a NON request is sent once and waits for a NON response", () => {
    const ep = endpoint({ responseTimeoutMs: 1000 });
    const [req] = sent(ep.handle(get(1, "/a", { confirmable: false }), 0));
    expect(req.type).toBe("NON");
    expect(ep.nextDeadline()).toBe(1000);
    const res = encodeMessage({ type: "NON", code: ResponseCode.Content, messageId: 5, token: req.token, options: [], payload: text("x") });
    expect(app(ep.handle(dgram(res), 50))).toMatchObject([{ type: "response", id: 1 }]);
  });

  test("a NON request answered with RST fails at once with reset (§4.3)", () => {
    const ep = endpoint();
    const [req] = sent(ep.handle(get(1, "/a", { confirmable: false }), 0));
    const rst = encodeMessage({ type: "RST", code: 0, messageId: req.messageId, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) });
    expect(ep.handle(dgram(rst), 5)).toEqual([{ type: "failed", id: 1, code: "reset" }]);
  });

  test("tokens are random bytes of the configured length, message ids count up from a random start", () => {
    let seed = 1;
    const ep = new CoapEndpoint({ random: () => ((seed = (seed * 48271) % 2147483647) / 2147483647), tokenLength: 8, nstart: 4 });
    const a = sent(ep.handle(get(1, "/a"), 0))[0];
    const b = sent(ep.handle(get(2, "/b"), 0))[0];
    expect(a.token.length).toBe(8);
    expect(a.token).not.toEqual(b.token);
    expect(b.messageId).toBe((a.messageId + 1) & 0xffff);
  });

  test("a malformed CON is answered with RST (§4.2); a malformed NON and headerless garbage are ignored", () => {
    const ep = endpoint();
    const bad = Uint8Array.of(0x40, 0x01, 0x12, 0x34, 0xf0);
    expect(sent(ep.handle(dgram(bad, CLIENT), 0))).toMatchObject([{ type: "RST", messageId: 0x1234 }]);
    expect(ep.handle(dgram(Uint8Array.of(0x50, 0x01, 0x12, 0x35, 0xf0), CLIENT), 0)).toEqual([]);
    expect(ep.handle(dgram(Uint8Array.of(1, 2), CLIENT), 0)).toEqual([]);
  });

  test("a CON request with an unknown critical option gets 4.02 Bad Option (§5.4.1)", () => {
    const ep = endpoint();
    // option 9 (critical, unassigned here) with one byte
    const m = Uint8Array.of(0x41, 0x01, 0x00, 0x07, 0xaa, 0x91, 0x00);
    const [r] = sent(ep.handle(dgram(m, CLIENT), 0));
    expect(r).toMatchObject({ type: "ACK", code: ResponseCode.BadOption, messageId: 7 });
    expect([...r.token]).toEqual([0xaa]);
  });

  test("an empty CON from a peer is a ping and gets RST (§4.3)", () => {
    const ep = endpoint();
    expect(sent(ep.handle(dgram(Uint8Array.of(0x40, 0, 0, 9), CLIENT), 0))).toMatchObject([{ type: "RST", messageId: 9 }]);
  });

  test("a response nobody waits for is rejected with RST", () => {
    const ep = endpoint();
    const m = encodeMessage({ type: "NON", code: ResponseCode.Content, messageId: 3, token: Uint8Array.of(1), options: [], payload: new Uint8Array(0) });
    expect(sent(ep.handle(dgram(m), 0))).toMatchObject([{ type: "RST", messageId: 3 }]);
  });
});

describe("NSTART (§4.7)", () => {
  test("a second request to the same peer waits until the first completes; another peer is not held up", () => {
    const ep = endpoint();
    const [a] = sent(ep.handle(get(1, "/a"), 0));
    expect(sent(ep.handle(get(2, "/b"), 0))).toEqual([]);
    const other = { type: "request" as const, id: 3, peer: CLIENT, request: { method: Method.GET } };
    expect(sent(ep.handle(other, 0))).toHaveLength(1);
    const acts = ep.handle(dgram(reply(a, {})), 10);
    expect(app(acts)).toMatchObject([{ type: "response", id: 1 }]);
    const [b] = sent(acts);
    expect(b.options.map((o) => str(o.value))).toEqual(["b"]);
  });

  test("the queue is bounded: beyond maxQueued a request fails queue-full", () => {
    const ep = endpoint({ maxQueued: 1 });
    ep.handle(get(1, "/a"), 0);
    expect(ep.handle(get(2, "/b"), 0)).toEqual([]);
    expect(ep.handle(get(3, "/c"), 0)).toEqual([{ type: "failed", id: 3, code: "queue-full" }]);
  });

  test("cancelling a queued request frees its place", () => {
    const ep = endpoint({ maxQueued: 1 });
    ep.handle(get(1, "/a"), 0);
    ep.handle(get(2, "/b"), 0);
    expect(ep.handle({ type: "cancel", id: 2 }, 0)).toEqual([{ type: "failed", id: 2, code: "cancelled" }]);
    expect(ep.handle(get(3, "/c"), 0)).toEqual([]);
  });
});

describe("server side and duplicate detection", () => {
  test("a duplicate CON request gets the same piggybacked response and is delivered to the application once", () => {
    const ep = endpoint();
    const req = encodeMessage({ type: "CON", code: Method.GET, messageId: 42, token: Uint8Array.of(7), options: pathOptions("/t"), payload: new Uint8Array(0) });
    const [incoming] = app(ep.handle(dgram(req, CLIENT), 0)) as Extract<EndpointAction, { type: "incoming" }>[];
    expect(incoming.type).toBe("incoming");
    const [res] = sent(ep.handle({ type: "respond", exchange: incoming.exchange, response: { code: ResponseCode.Content, payload: text("v") } }, 5));
    expect(res).toMatchObject({ type: "ACK", messageId: 42, code: ResponseCode.Content });
    const again = ep.handle(dgram(req, CLIENT), 3000);
    expect(app(again)).toEqual([]);
    expect(sent(again)).toEqual([res]);
  });

  test("replies kept for duplicates are bounded in bytes; a duplicate GET whose reply was dropped is processed again", () => {
    const ep = endpoint({ maxDedupBytes: 2500 });
    const body = new Uint8Array(1000);
    const reqs = [1, 2, 3].map((mid) =>
      encodeMessage({ type: "CON", code: mid === 3 ? Method.POST : Method.GET, messageId: mid, token: Uint8Array.of(mid), options: [], payload: new Uint8Array(0) }),
    );
    for (const r of reqs) {
      const [inc] = app(ep.handle(dgram(r, CLIENT), 0)) as Extract<EndpointAction, { type: "incoming" }>[];
      ep.handle({ type: "respond", exchange: inc.exchange, response: { code: ResponseCode.Content, payload: body } }, 0);
    }
    // Three 1 KB replies do not fit in 2500 bytes: the first one (a GET) was dropped.
    const again = ep.handle(dgram(reqs[0], CLIENT), 10);
    expect(app(again)).toMatchObject([{ type: "incoming" }]);
    // The last two are still answered from the cache.
    expect(app(ep.handle(dgram(reqs[2], CLIENT), 10))).toEqual([]);
    expect(sent(ep.handle(dgram(reqs[2], CLIENT), 10))).toHaveLength(1);
  });

  test("the duplicate table holds at most maxDedup messages, the oldest going first, again and again", () => {
    const ep = endpoint({ maxDedup: 4 });
    const req = (mid: number) => encodeMessage({ type: "CON", code: Method.GET, messageId: mid, token: Uint8Array.of(mid & 0xff), options: [], payload: new Uint8Array(0) });
    const answer = (mid: number, t: number) => {
      const [inc] = app(ep.handle(dgram(req(mid), CLIENT), t)) as Extract<EndpointAction, { type: "incoming" }>[];
      expect(inc?.type).toBe("incoming");
      ep.handle({ type: "respond", exchange: inc.exchange, response: { code: ResponseCode.Content, payload: text(`r${mid}`) } }, t);
    };
    // three rounds through the ring (it grows to 4 and then turns)
    for (let round = 0; round < 3; round++) {
      const base = 100 * round;
      for (let mid = base + 1; mid <= base + 6; mid++) answer(mid, mid);
      // the last four are duplicates, answered from the table; the first two were forgotten and are new again
      for (let mid = base + 3; mid <= base + 6; mid++) {
        const again = ep.handle(dgram(req(mid), CLIENT), base + 10);
        expect(app(again)).toEqual([]);
        expect(str(sent(again)[0].payload)).toBe(`r${mid}`);
      }
      answer(base + 1, base + 11); // forgets base + 3, the oldest now
      expect(app(ep.handle(dgram(req(base + 3), CLIENT), base + 12))).toMatchObject([{ type: "incoming" }]);
    }
    expect(() => endpoint({ maxDedup: 0 })).toThrow(/maxDedup/);
  });

  test("duplicates are remembered for EXCHANGE_LIFETIME, then forgotten", () => {
    const ep = endpoint({ exchangeLifetimeMs: 1000 });
    const req = encodeMessage({ type: "NON", code: Method.GET, messageId: 1, token: Uint8Array.of(7), options: [], payload: new Uint8Array(0) });
    expect(app(ep.handle(dgram(req, CLIENT), 0))).toHaveLength(1);
    expect(app(ep.handle(dgram(req, CLIENT), 999))).toHaveLength(0);
    expect(app(ep.handle(dgram(req, CLIENT), 1000))).toHaveLength(1);
  });

  test("a slow application: empty ACK after the piggyback window, then a CON response retransmitted until ACKed", () => {
    const ep = endpoint({ piggybackWindowMs: 200 });
    const req = encodeMessage({ type: "CON", code: Method.GET, messageId: 42, token: Uint8Array.of(7), options: [], payload: new Uint8Array(0) });
    const [incoming] = app(ep.handle(dgram(req, CLIENT), 0)) as Extract<EndpointAction, { type: "incoming" }>[];
    expect(ep.nextDeadline()).toBe(200);
    expect(sent(ep.handle({ type: "timer" }, 200))).toMatchObject([{ type: "ACK", code: 0, messageId: 42 }]);
    const [res] = sent(ep.handle({ type: "respond", exchange: incoming.exchange, response: { code: ResponseCode.Content } }, 1000));
    expect(res.type).toBe("CON");
    expect([...res.token]).toEqual([7]);
    expect(ep.nextDeadline()).toBe(1000 + 2500);
    expect(sent(ep.handle({ type: "timer" }, 3500))).toEqual([res]);
    const ack = encodeMessage({ type: "ACK", code: 0, messageId: res.messageId, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) });
    ep.handle(dgram(ack, CLIENT), 3600);
    expect(ep.nextDeadline()).toBeUndefined();
  });

  test("No-Response (RFC 7967) suppresses a 2.xx response to a NON request", () => {
    const ep = endpoint();
    const req = encodeMessage({ type: "NON", code: Method.POST, messageId: 4, token: Uint8Array.of(1), options: [{ number: Option.NoResponse, value: encodeUint(2) }], payload: new Uint8Array(0) });
    const [incoming] = app(ep.handle(dgram(req, CLIENT), 0)) as Extract<EndpointAction, { type: "incoming" }>[];
    expect(ep.handle({ type: "respond", exchange: incoming.exchange, response: { code: ResponseCode.Changed } }, 1)).toEqual([]);
  });

  test("when the application holds too many requests, new ones get 5.03", () => {
    const ep = endpoint({ maxServerExchanges: 1 });
    const req = (mid: number) => encodeMessage({ type: "CON", code: Method.GET, messageId: mid, token: Uint8Array.of(mid), options: [], payload: new Uint8Array(0) });
    ep.handle(dgram(req(1), CLIENT), 0);
    expect(sent(ep.handle(dgram(req(2), CLIENT), 0))).toMatchObject([{ type: "ACK", code: ResponseCode.ServiceUnavailable }]);
  });

  test("a CON notification that is RST or never ACKed reports observer-gone", () => {
    const ep = endpoint({ maxRetransmit: 0 });
    const [n] = sent(ep.handle({ type: "notify", peer: CLIENT, token: Uint8Array.of(3), response: { code: ResponseCode.Content }, confirmable: true }, 0));
    expect(app(ep.handle({ type: "timer" }, ep.nextDeadline()!))).toMatchObject([{ type: "observer-gone", token: Uint8Array.of(3) }]);
    const [n2] = sent(ep.handle({ type: "notify", peer: CLIENT, token: Uint8Array.of(4), response: { code: ResponseCode.Content }, confirmable: false }, 0));
    expect(n2.messageId).not.toBe(n.messageId);
    const rst = encodeMessage({ type: "RST", code: 0, messageId: n2.messageId, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) });
    expect(app(ep.handle(dgram(rst, CLIENT), 5))).toMatchObject([{ type: "observer-gone", token: Uint8Array.of(4) }]);
  });
});

function notification(token: Uint8Array, seq: number, body: string, mid: number, extra: CoapOption[] = []): Uint8Array {
  return encodeMessage({ type: "NON", code: ResponseCode.Content, messageId: mid, token, options: [{ number: Option.Observe, value: encodeUint(seq) }, ...extra], payload: text(body) });
}

describe("Observe (RFC 7641)", () => {
  function registered(extra: Partial<EndpointOptions> = {}) {
    const ep = endpoint(extra);
    const [req] = sent(ep.handle(get(1, "/time", { observe: true }), 0));
    expect(optionUint(req, Option.Observe)).toBe(0);
    const first = ep.handle(dgram(reply(req, { options: [{ number: Option.Observe, value: encodeUint(5) }], payload: text("t0") })), 10);
    expect(app(first)).toMatchObject([{ type: "notification", id: 1 }]);
    return { ep, req };
  }
  const bodies = (acts: EndpointAction[]) => acts.filter((a) => a.type === "notification").map((a) => str((a as { response: CoapMessage }).response.payload));

  test("notifications are delivered in order; a stale one (older sequence number) is dropped (§3.4)", () => {
    const { ep, req } = registered();
    expect(bodies(ep.handle(dgram(notification(req.token, 7, "t7", 100)), 1000))).toEqual(["t7"]);
    expect(bodies(ep.handle(dgram(notification(req.token, 6, "t6", 101)), 1100))).toEqual([]);
    expect(bodies(ep.handle(dgram(notification(req.token, 8, "t8", 102)), 1200))).toEqual(["t8"]);
  });

  test("sequence numbers wrap at 2^24 and more than 128 s later any number is fresh (§3.4)", () => {
    const { ep, req } = registered();
    expect(bodies(ep.handle(dgram(notification(req.token, 0x7fff00, "a", 98)), 500))).toEqual(["a"]);
    expect(bodies(ep.handle(dgram(notification(req.token, 0xfffe00, "b", 99)), 800))).toEqual(["b"]);
    expect(bodies(ep.handle(dgram(notification(req.token, 3, "wrapped", 101)), 2000))).toEqual(["wrapped"]);
    expect(bodies(ep.handle(dgram(notification(req.token, 1, "old", 102)), 3000))).toEqual([]);
    expect(bodies(ep.handle(dgram(notification(req.token, 1, "much later", 103)), 3000 + 128_001))).toEqual(["much later"]);
  });

  test("a CON notification is ACKed, a duplicate is not delivered twice", () => {
    const { ep, req } = registered();
    const con = encodeMessage({ type: "CON", code: ResponseCode.Content, messageId: 300, token: req.token, options: [{ number: Option.Observe, value: encodeUint(9) }], payload: text("c") });
    const a = ep.handle(dgram(con), 100);
    expect(sent(a)).toMatchObject([{ type: "ACK", messageId: 300 }]);
    expect(bodies(a)).toEqual(["c"]);
    expect(bodies(ep.handle(dgram(con), 200))).toEqual([]);
  });

  test("when Max-Age passes without a notification the client registers again with the same token (§3.3.1)", () => {
    const { ep, req } = registered({ reregisterMarginMs: 1000 });
    ep.handle(dgram(notification(req.token, 6, "x", 100, [{ number: Option.MaxAge, value: encodeUint(30) }])), 5000);
    expect(ep.nextDeadline()).toBe(5000 + 30_000 + 1000);
    const [again] = sent(ep.handle({ type: "timer" }, 36_000));
    expect(again.token).toEqual(req.token);
    expect(optionUint(again, Option.Observe)).toBe(0);
    expect(again.messageId).not.toBe(req.messageId);
    // The server restarted: its sequence numbers start low again, and are accepted.
    const r = ep.handle(dgram(reply(again, { options: [{ number: Option.Observe, value: encodeUint(2) }], payload: text("after restart") })), 36_100);
    expect(bodies(r)).toEqual(["after restart"]);
    expect(bodies(ep.handle(dgram(notification(req.token, 3, "next", 400)), 37_000))).toEqual(["next"]);
  });

  test("a re-registration that times out keeps the observation and tries again later", () => {
    const { ep } = registered({ maxRetransmit: 0 });
    let now = ep.nextDeadline()!;
    expect(sent(ep.handle({ type: "timer" }, now))).toHaveLength(1); // re-register
    now = ep.nextDeadline()!;
    expect(app(ep.handle({ type: "timer" }, now))).toEqual([]);
    expect(ep.exchangeCount).toBe(1);
    expect(ep.nextDeadline()).toBe(now + 60_000);
  });

  test("cancel sends GET with Observe=1 and the same token (§3.6); its answer ends the observation", () => {
    const { ep, req } = registered();
    const [dereg] = sent(ep.handle({ type: "cancel", id: 1 }, 100));
    expect(optionUint(dereg, Option.Observe)).toBe(1);
    expect(dereg.token).toEqual(req.token);
    expect(app(ep.handle(dgram(reply(dereg, { payload: text("last") })), 200))).toEqual([{ type: "failed", id: 1, code: "cancelled" }]);
    expect(ep.exchangeCount).toBe(0);
  });

  test("a passive cancel forgets the token; the next notification is answered with RST", () => {
    const { ep, req } = registered();
    expect(ep.handle({ type: "cancel", id: 1, passive: true }, 100)).toEqual([{ type: "failed", id: 1, code: "cancelled" }]);
    const acts = ep.handle(dgram(notification(req.token, 9, "n", 500)), 200);
    expect(sent(acts)).toMatchObject([{ type: "RST", messageId: 500 }]);
    expect(app(acts)).toEqual([]);
  });

  test("a response without Observe means the server did not register us: it is the final response (§3.2)", () => {
    const ep = endpoint();
    const [req] = sent(ep.handle(get(1, "/time", { observe: true }), 0));
    expect(app(ep.handle(dgram(reply(req, { payload: text("once") })), 10))).toMatchObject([{ type: "response", id: 1 }]);
    expect(ep.exchangeCount).toBe(0);
  });

  test("a notification bigger than one block is completed with GETs for the rest, then delivered whole (RFC 7959 §2.6)", () => {
    const ep = endpoint();
    const [req] = sent(ep.handle(get(1, "/big", { observe: true }), 0));
    const first = reply(req, {
      options: [{ number: Option.Observe, value: encodeUint(4) }, { number: Option.Block2, value: encodeBlock({ num: 0, more: true, szx: 0 }) }],
      payload: text("0123456789abcdef"),
    });
    const acts = ep.handle(dgram(first), 10);
    expect(app(acts)).toEqual([]); // not yet: only the first block is here
    const [more] = sent(acts);
    expect(optionUint(more, Option.Observe)).toBeUndefined();
    expect(optionBlock(more, Option.Block2)).toEqual({ num: 1, more: false, szx: 0 });
    expect(more.token).not.toEqual(req.token);
    const last = ep.handle(dgram(reply(more, { options: [{ number: Option.Block2, value: encodeBlock({ num: 1, more: false, szx: 0 }) }], payload: text("XYZ") })), 20);
    const [n] = app(last) as Extract<EndpointAction, { type: "notification" }>[];
    expect(n).toMatchObject({ type: "notification", id: 1 });
    expect(str(n.response.payload)).toBe("0123456789abcdefXYZ");
    expect(optionUint(n.response, Option.Observe)).toBe(4);
    expect(ep.exchangeCount).toBe(1); // the observation goes on
  });

  test("the registration frees the NSTART slot once answered", () => {
    const { ep } = registered();
    expect(sent(ep.handle(get(2, "/other"), 20))).toHaveLength(1);
  });
});

describe("Block-wise transfers (RFC 7959)", () => {
  function blockReply(to: CoapMessage, num: number, more: boolean, szx: number, body: Uint8Array, extra: CoapOption[] = []) {
    return reply(to, { options: [{ number: Option.Block2, value: encodeBlock({ num, more, szx }) }, ...extra], payload: body });
  }

  test("a Block2 download is delivered block by block, asking for each next block in the server's size", () => {
    const ep = endpoint();
    let [req] = sent(ep.handle(get(1, "/big", { stream: true }), 0));
    expect(optionBlock(req, Option.Block2)).toBeUndefined();
    const blocks: string[] = [];
    const body = (c: string) => text(c.repeat(64));
    for (let num = 0; num < 3; num++) {
      const acts = ep.handle(dgram(blockReply(req, num, num < 2, 2, num < 2 ? body("abc"[num]) : text("end"))), 10 * num);
      for (const a of acts) if (a.type === "block") blocks.push(`${a.offset}:${a.data.length}:${a.more}`);
      const next = sent(acts);
      if (num < 2) {
        expect(next).toHaveLength(1);
        expect(optionBlock(next[0], Option.Block2)).toEqual({ num: num + 1, more: false, szx: 2 });
        req = next[0];
      } else {
        expect(next).toEqual([]);
        expect(app(acts).map((a) => a.type)).toEqual(["block", "response"]);
      }
    }
    expect(blocks).toEqual(["0:64:true", "64:64:true", "128:3:false"]);
  });

  test("without stream the body is assembled, bounded by maxBodyBytes", () => {
    const ep = endpoint({ maxBodyBytes: 100 });
    const [req] = sent(ep.handle(get(1, "/big"), 0));
    const [next] = sent(ep.handle(dgram(blockReply(req, 0, true, 2, new Uint8Array(64))), 1));
    expect(ep.handle(dgram(blockReply(next, 1, true, 2, new Uint8Array(64))), 2)).toEqual([{ type: "failed", id: 1, code: "too-large" }]);

    const ep2 = endpoint();
    const [r2] = sent(ep2.handle(get(1, "/big"), 0));
    const [n2] = sent(ep2.handle(dgram(blockReply(r2, 0, true, 0, text("0123456789abcdef"))), 1));
    const done = app(ep2.handle(dgram(blockReply(n2, 1, false, 0, text("XY"))), 2)) as Extract<EndpointAction, { type: "response" }>[];
    expect(str(done[0].response.payload)).toBe("0123456789abcdefXY");
  });

  test("a block with a number we did not ask for, or a changed ETag, fails block-mismatch", () => {
    const ep = endpoint();
    const [req] = sent(ep.handle(get(1, "/big"), 0));
    const [next] = sent(ep.handle(dgram(blockReply(req, 0, true, 0, new Uint8Array(16), [{ number: Option.ETag, value: Uint8Array.of(1) }])), 1));
    expect(ep.handle(dgram(blockReply(next, 1, true, 0, new Uint8Array(16), [{ number: Option.ETag, value: Uint8Array.of(2) }])), 2)).toEqual([
      { type: "failed", id: 1, code: "block-mismatch" },
    ]);
    const ep2 = endpoint();
    const [r2] = sent(ep2.handle(get(1, "/big"), 0));
    expect(ep2.handle(dgram(blockReply(r2, 3, true, 0, new Uint8Array(16))), 1)).toEqual([{ type: "failed", id: 1, code: "block-mismatch" }]);
  });

  test("a download that starts mid-resource takes the ETag of its first block as the reference (libcoap sends one)", () => {
    const etag = (v: number) => [{ number: Option.ETag, value: Uint8Array.of(v) }];
    const ep = endpoint();
    const [req] = sent(ep.handle(get(1, "/img", { stream: true, offset: 48, blockSize: 16 }), 0));
    expect(optionBlock(req, Option.Block2)).toEqual({ num: 3, more: false, szx: 0 });
    const first = ep.handle(dgram(blockReply(req, 3, true, 0, new Uint8Array(16), etag(1))), 1);
    expect(app(first)).toEqual([expect.objectContaining({ type: "block", offset: 48, more: true })]);
    const [next] = sent(first);
    expect(optionBlock(next, Option.Block2)).toEqual({ num: 4, more: false, szx: 0 });
    const last = ep.handle(dgram(blockReply(next, 4, false, 0, new Uint8Array(5), etag(1))), 2);
    expect(app(last).map((a) => a.type)).toEqual(["block", "response"]);

    // The reference holds for the rest of that transfer: a changed or vanished ETag is still a mismatch.
    for (const later of [etag(2), []]) {
      const e = endpoint();
      const [r] = sent(e.handle(get(1, "/img", { stream: true, offset: 48, blockSize: 16 }), 0));
      const [n] = sent(e.handle(dgram(blockReply(r, 3, true, 0, new Uint8Array(16), etag(1))), 1));
      expect(e.handle(dgram(blockReply(n, 4, false, 0, new Uint8Array(5), later)), 2)).toEqual([{ type: "failed", id: 1, code: "block-mismatch" }]);
    }
  });

  test("blockSize asks for smaller blocks up front (early negotiation, §2.4)", () => {
    const ep = endpoint();
    const [req] = sent(ep.handle(get(1, "/big", { blockSize: 64 }), 0));
    expect(optionBlock(req, Option.Block2)).toEqual({ num: 0, more: false, szx: 2 });
  });

  test("a Block1 upload follows 2.31 Continue, adopts the server's smaller size, and sends Size1 first", () => {
    const ep = endpoint();
    const body = new Uint8Array(300).map((_, i) => i & 0xff);
    const put = { type: "request" as const, id: 1, peer: SERVER, request: { method: Method.PUT, options: pathOptions("/up"), payload: body, blockSize: 128 } };
    const [b0] = sent(ep.handle(put, 0));
    expect(optionBlock(b0, Option.Block1)).toEqual({ num: 0, more: true, szx: 3 });
    expect(optionUint(b0, Option.Size1)).toBe(300);
    expect(b0.payload.length).toBe(128);
    // Server keeps only 64 bytes and asks for 64-byte blocks.
    const cont = (to: CoapMessage, num: number, szx: number) => reply(to, { code: ResponseCode.Continue, options: [{ number: Option.Block1, value: encodeBlock({ num, more: true, szx }) }] });
    let [b] = sent(ep.handle(dgram(cont(b0, 0, 2)), 1));
    const seen: string[] = [];
    for (let k = 0; k < 10 && b !== undefined; k++) {
      const blk = optionBlock(b, Option.Block1)!;
      seen.push(`${blk.num}/${blk.more ? 1 : 0}/${b.payload.length}@${b.payload[0]}`);
      if (!blk.more) {
        const fin = ep.handle(dgram(reply(b, { code: ResponseCode.Changed, options: [{ number: Option.Block1, value: encodeBlock(blk) }] })), 2);
        expect(app(fin)).toMatchObject([{ type: "response", id: 1, response: { code: ResponseCode.Changed } }]);
        break;
      }
      [b] = sent(ep.handle(dgram(cont(b, blk.num, 2)), 2));
    }
    expect(seen).toEqual(["1/1/64@64", "2/1/64@128", "3/1/64@192", "4/0/44@0"]);
  });

  test("a Block1 upload whose final response has Block2 fetches the rest of the response without payload (§3.3)", () => {
    const ep = endpoint();
    const body = new Uint8Array(20).fill(1);
    const [b0] = sent(ep.handle({ type: "request", id: 1, peer: SERVER, request: { method: Method.POST, payload: body, blockSize: 16 } }, 0));
    const cont = reply(b0, { code: ResponseCode.Continue, options: [{ number: Option.Block1, value: encodeBlock({ num: 0, more: true, szx: 0 }) }] });
    const [b1] = sent(ep.handle(dgram(cont), 1));
    expect(b1.payload.length).toBe(4);
    const fin = reply(b1, {
      code: ResponseCode.Changed,
      options: [{ number: Option.Block1, value: encodeBlock({ num: 1, more: false, szx: 0 }) }, { number: Option.Block2, value: encodeBlock({ num: 0, more: true, szx: 0 }) }],
      payload: text("0123456789abcdef"),
    });
    const [next] = sent(ep.handle(dgram(fin), 2));
    expect(next.code).toBe(Method.POST);
    expect(next.payload.length).toBe(0);
    expect(optionBlock(next, Option.Block1)).toBeUndefined();
    expect(optionBlock(next, Option.Block2)).toEqual({ num: 1, more: false, szx: 0 });
    const done = app(ep.handle(dgram(reply(next, { code: ResponseCode.Changed, options: [{ number: Option.Block2, value: encodeBlock({ num: 1, more: false, szx: 0 }) }], payload: text("!") })), 3));
    expect(str((done[0] as Extract<EndpointAction, { type: "response" }>).response.payload)).toBe("0123456789abcdef!");
  });

  test("4.13 with a smaller Block1 size restarts the upload in that size (§2.9.3)", () => {
    const ep = endpoint();
    const body = new Uint8Array(2000);
    const [b0] = sent(ep.handle({ type: "request", id: 1, peer: SERVER, request: { method: Method.POST, payload: body } }, 0));
    expect(optionBlock(b0, Option.Block1)).toEqual({ num: 0, more: true, szx: 6 });
    const tooLarge = reply(b0, { code: ResponseCode.RequestEntityTooLarge, options: [{ number: Option.Block1, value: encodeBlock({ num: 0, more: false, szx: 4 }) }] });
    const [again] = sent(ep.handle(dgram(tooLarge), 1));
    expect(optionBlock(again, Option.Block1)).toEqual({ num: 0, more: true, szx: 4 });
    expect(again.payload.length).toBe(256);
  });
});

describe("bad input never throws", () => {
  test("10 000 random datagrams into a busy endpoint give no exception and stay bounded", () => {
    let s = 12345;
    const rand = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    const ep = new CoapEndpoint({ random: rand, maxDedup: 64 });
    ep.handle(get(1, "/a", { observe: true }), 0);
    for (let i = 0; i < 10_000; i++) {
      const d = new Uint8Array(Math.floor(rand() * 24));
      for (let k = 0; k < d.length; k++) d[k] = Math.floor(rand() * 256);
      if (d.length > 0) d[0] = (d[0] & 0x3f) | 0x40;
      const acts = ep.handle(dgram(d, i % 2 ? SERVER : CLIENT), i);
      for (const a of acts) if (a.type === "incoming") ep.handle({ type: "respond", exchange: a.exchange, response: { code: code(2, 5) } }, i);
    }
    expect(ep.exchangeCount).toBeLessThanOrEqual(1);
    void decodeBlock;
  });
});
