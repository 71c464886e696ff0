/**
 * The endpoint's tables keyed by numbers (src/coap/peers.ts): message ids and
 * tokens are per peer (RFC 7252 §4.4, §4.5, §5.3.2), the peer table is bounded.
 */
import { describe, expect, test } from "vitest";
import { Method, Option, ResponseCode, decodeMessage, encodeMessage, encodeUint, pathOptions, type CoapMessage } from "../../src/coap/codec.js";
import { CoapEndpoint, type EndpointAction, type EndpointOptions, type Peer } from "../../src/coap/endpoint.js";
import { TokenTable } from "../../src/coap/peers.js";
import type { ClientExchange, PeerEntry } from "../../src/coap/endpoint-types.js";

const A: Peer = { address: "10.0.0.1", port: 5683 };
const B: Peer = { address: "10.0.0.2", port: 5683 };
const A2: Peer = { address: "10.0.0.1", port: 5684 }; // same address, another port: another peer
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

function endpoint(extra: Partial<EndpointOptions> = {}): CoapEndpoint {
  return new CoapEndpoint({ random: () => 0.5, ...extra });
}
function sent(actions: EndpointAction[]): { peer: Peer; m: CoapMessage }[] {
  return actions.flatMap((a) => (a.type === "send" ? [{ peer: a.peer, m: decodeMessage(a.data) }] : []));
}
function app(actions: EndpointAction[]): EndpointAction[] {
  return actions.filter((a) => a.type !== "send");
}
function dgram(data: Uint8Array, peer: Peer) {
  return { type: "datagram" as const, peer, data };
}
function conGet(mid: number, token: number, path = "/t"): Uint8Array {
  return encodeMessage({ type: "CON", code: Method.GET, messageId: mid, token: Uint8Array.of(token), options: pathOptions(path), payload: new Uint8Array(0) });
}
function get(id: number, peer: Peer, extra: Record<string, unknown> = {}) {
  return { type: "request" as const, id, peer, request: { method: Method.GET, options: pathOptions("/x"), ...extra } };
}
function answer(to: CoapMessage, body: string, extra: Partial<CoapMessage> = {}): Uint8Array {
  return encodeMessage({ type: "ACK", code: ResponseCode.Content, messageId: to.messageId, token: to.token, options: [], payload: text(body), ...extra });
}

describe("message ids are per peer (RFC 7252 §4.5)", () => {
  test("two peers sending the same message id are two requests, and each one's duplicate is still caught", () => {
    const ep = endpoint();
    for (const p of [A, A2, B]) expect(app(ep.handle(dgram(conGet(7, 1), p), 0))).toMatchObject([{ type: "incoming", peer: p }]);
    for (const p of [A, A2, B]) expect(app(ep.handle(dgram(conGet(7, 1), p), 10))).toEqual([]);
  });

  test("an ACK with our message id from another peer does not settle the exchange", () => {
    const ep = endpoint();
    const [req] = sent(ep.handle(get(1, A), 0));
    expect(app(ep.handle(dgram(answer(req.m, "wrong peer"), B), 5))).toEqual([]);
    expect(app(ep.handle(dgram(answer(req.m, "right"), A), 6))).toMatchObject([{ type: "response", id: 1 }]);
  });
});

describe("tokens are per peer (§5.3.2)", () => {
  for (const length of [2, 8]) {
    test(`the same ${length}-byte token to two peers: each response reaches its own exchange`, () => {
      const ep = endpoint();
      const token = new Uint8Array(length).fill(0xab);
      const [toA] = sent(ep.handle(get(1, A, { token }), 0));
      const [toB] = sent(ep.handle(get(2, B, { token }), 0));
      expect(toA.m.token).toEqual(token);
      expect(toB.m.token).toEqual(token);
      // separate responses (§5.2.2): empty ACKs first, then each answer as a CON of its own
      for (const [to, peer] of [[toA, A], [toB, B]] as const) {
        ep.handle(dgram(encodeMessage({ type: "ACK", code: 0, messageId: to.m.messageId, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) }), peer), 1);
      }
      const con = (mid: number, body: string) => encodeMessage({ type: "CON", code: ResponseCode.Content, messageId: mid, token, options: [], payload: text(body) });
      const fromB = ep.handle(dgram(con(900, "from B"), B), 2);
      expect(sent(fromB)).toMatchObject([{ peer: B, m: { type: "ACK", messageId: 900 } }]);
      expect(app(fromB)).toMatchObject([{ type: "response", id: 2 }]);
      expect(str((app(fromB)[0] as { response: CoapMessage }).response.payload)).toBe("from B");
      const fromA = app(ep.handle(dgram(con(900, "from A"), A), 3));
      expect(fromA).toMatchObject([{ type: "response", id: 1 }]);
    });
  }

  test("a notification with a known token from another peer gets RST and reaches no observer", () => {
    const ep = endpoint();
    const [req] = sent(ep.handle(get(1, A, { observe: true }), 0));
    ep.handle(dgram(answer(req.m, "t0", { options: [{ number: Option.Observe, value: encodeUint(1) }] }), A), 1);
    const n = encodeMessage({ type: "CON", code: ResponseCode.Content, messageId: 5, token: req.m.token, options: [{ number: Option.Observe, value: encodeUint(2) }], payload: text("x") });
    const acts = ep.handle(dgram(n, B), 2);
    expect(app(acts)).toEqual([]);
    expect(sent(acts)).toMatchObject([{ peer: B, m: { type: "RST", messageId: 5 } }]);
    expect(app(ep.handle(dgram(n, A), 3))).toMatchObject([{ type: "notification", id: 1 }]);
  });

  test("the token table tells 00 from 0000 and finds long tokens by peer", () => {
    const t = new TokenTable();
    const entry = (id: number) => ({ id }) as PeerEntry;
    const ex = (id: number, pid: number, token: number[]) => ({ id, peerEntry: entry(pid), token: Uint8Array.from(token) }) as ClientExchange;
    const short1 = ex(1, 0, [0]);
    const short2 = ex(2, 0, [0, 0]);
    const long1 = ex(3, 0, [1, 2, 3, 4, 5, 6, 7, 8]);
    const long2 = ex(4, 1, [1, 2, 3, 4, 5, 6, 7, 8]);
    for (const e of [short1, short2, long1, long2]) t.add(e);
    expect(t.get(0, Uint8Array.of(0))).toBe(short1);
    expect(t.get(0, Uint8Array.of(0, 0))).toBe(short2);
    expect(t.get(0, new Uint8Array(0))).toBeUndefined();
    expect(t.get(1, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))).toBe(long2);
    t.delete(long1);
    expect(t.get(0, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))).toBeUndefined();
    expect(t.has(1, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))).toBe(true);
  });
});

describe("the peer table is bounded (maxPeers)", () => {
  const C: Peer = { address: "10.0.0.3", port: 5683 };

  test("a new peer takes the entry of the least recently used idle one, whose duplicates are forgotten", () => {
    const ep = endpoint({ maxPeers: 2 });
    ep.handle(dgram(conGet(1, 1), A), 0); // A: a request being answered (busy)
    const fromB = app(ep.handle(dgram(conGet(2, 2), B), 1));
    ep.handle({ type: "respond", exchange: (fromB[0] as { exchange: number }).exchange, response: { code: ResponseCode.Content } }, 2); // B idle now
    const fromC = app(ep.handle(dgram(conGet(3, 3), C), 3));
    expect(fromC).toMatchObject([{ type: "incoming", peer: C }]);
    ep.handle({ type: "respond", exchange: (fromC[0] as { exchange: number }).exchange, response: { code: ResponseCode.Content } }, 4); // C idle
    // B was forgotten with its duplicate table entries: its retransmission is new (and takes the idle C's entry)
    expect(app(ep.handle(dgram(conGet(2, 2), B), 5))).toMatchObject([{ type: "incoming", peer: B }]);
    // A, still busy, kept its entry: its duplicate is still caught
    expect(app(ep.handle(dgram(conGet(1, 1), A), 6))).toEqual([]);
  });

  test("when every peer is busy, a datagram from another is dropped and a request to another fails queue-full", () => {
    const ep = endpoint({ maxPeers: 2 });
    sent(ep.handle(get(1, A), 0));
    sent(ep.handle(get(2, B), 0));
    expect(ep.handle(dgram(conGet(9, 9), C), 1)).toEqual([]);
    expect(ep.handle(get(3, C), 1)).toEqual([{ type: "failed", id: 3, code: "queue-full" }]);
    expect(ep.handle({ type: "notify", peer: C, token: Uint8Array.of(1), response: { code: ResponseCode.Content }, confirmable: true }, 1)).toEqual([
      { type: "observer-gone", peer: C, token: Uint8Array.of(1) },
    ]);
  });

  test("a peer whose exchange ended can be replaced; its exchanges with the new peer work", () => {
    const ep = endpoint({ maxPeers: 1 });
    const [req] = sent(ep.handle(get(1, A), 0));
    expect(app(ep.handle(dgram(answer(req.m, "a"), A), 1))).toMatchObject([{ type: "response", id: 1 }]);
    const [toB] = sent(ep.handle(get(2, B), 2));
    expect(toB.peer).toEqual(B);
    expect(app(ep.handle(dgram(answer(toB.m, "b"), B), 3))).toMatchObject([{ type: "response", id: 2 }]);
  });

  test("maxPeers out of range is refused", () => {
    expect(() => endpoint({ maxPeers: 0 })).toThrow(/maxPeers/);
    expect(() => endpoint({ maxPeers: 0x10001 })).toThrow(/maxPeers/);
  });
});
