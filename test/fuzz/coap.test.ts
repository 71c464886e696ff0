import { describe, expect, test } from "vitest";
import { CoapFormatError, Method, Option, ResponseCode, decodeMessage, encodeBlock, encodeMessage, encodeUint, pathOptions, type CoapMessage } from "../../src/coap/codec.js";
import { CoapEndpoint, type EndpointAction } from "../../src/coap/endpoint.js";
import { parseLinkFormat } from "../../src/coap/linkformat.js";
import { MoteError } from "../../src/errors.js";
import { parseCoapUri } from "../../src/coap/uri.js";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const SEEDS = [
  encodeMessage({ type: "CON", code: Method.GET, messageId: 1, token: Uint8Array.of(1, 2), options: [...pathOptions("/a/b"), { number: Option.Observe, value: new Uint8Array(0) }], payload: new Uint8Array(0) }),
  encodeMessage({ type: "ACK", code: ResponseCode.Content, messageId: 2, token: Uint8Array.of(1, 2), options: [{ number: Option.Block2, value: encodeBlock({ num: 1, more: true, szx: 6 }) }, { number: Option.Size2, value: encodeUint(99999) }], payload: new Uint8Array(30) }),
  encodeMessage({ type: "NON", code: ResponseCode.Content, messageId: 3, token: Uint8Array.of(9), options: [{ number: Option.Observe, value: encodeUint(77) }, { number: Option.MaxAge, value: encodeUint(5) }], payload: new Uint8Array(4) }),
];

function mutate(r: () => number, base: Uint8Array): Uint8Array {
  const d = base.slice();
  const kind = Math.floor(r() * 4);
  if (kind === 0) for (let k = 0; k < 1 + r() * 4; k++) d[Math.floor(r() * d.length)] = Math.floor(r() * 256);
  if (kind === 1) return d.subarray(0, Math.floor(r() * d.length));
  if (kind === 2) {
    const extra = new Uint8Array(Math.floor(r() * 20)).map(() => Math.floor(r() * 256));
    const out = new Uint8Array(d.length + extra.length);
    out.set(d);
    out.set(extra, d.length);
    return out;
  }
  if (kind === 3) d[4 + Math.floor(r() * Math.max(1, d.length - 4))] = [0xd0, 0xe0, 0xff, 0xf0, 0x0f][Math.floor(r() * 5)];
  return d;
}

describe("fuzz: CoAP decoders give a typed error or a valid value, never a crash", () => {
  test("decodeMessage over 20 000 mutated datagrams", () => {
    const r = rng(2024);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const d = mutate(r, SEEDS[i % SEEDS.length]);
      try {
        const m = decodeMessage(d);
        accepted++;
        expect(decodeMessage(encodeMessage(m)).options).toEqual(m.options);
      } catch (e) {
        expect(e).toBeInstanceOf(CoapFormatError);
      }
    }
    expect(accepted).toBeGreaterThan(1000); // the mutations are not all fatal
  });

  test("parseLinkFormat and parseCoapUri over random text", () => {
    const r = rng(7);
    const alphabet = '<>;,="\\/ abcrt0123456789.:?&%[]#obs';
    for (let i = 0; i < 5000; i++) {
      let s = "";
      const n = Math.floor(r() * 40);
      for (let k = 0; k < n; k++) s += alphabet[Math.floor(r() * alphabet.length)];
      try {
        parseLinkFormat(s);
      } catch (e) {
        expect(e).toBeInstanceOf(CoapFormatError);
      }
      try {
        parseCoapUri("coap://" + s);
      } catch (e) {
        expect(e).toBeInstanceOf(MoteError);
      }
    }
  });

  test("an endpoint with live client and server exchanges survives 20 000 mutated datagrams within its bounds", () => {
    const r = rng(99);
    const ep = new CoapEndpoint({ random: r, maxDedup: 32, maxServerExchanges: 4 });
    const server = { address: "10.0.0.1", port: 5683 };
    let now = 0;
    let id = 1;
    const respond = (acts: EndpointAction[]) => {
      for (const a of acts) if (a.type === "incoming" && r() < 0.5) ep.handle({ type: "respond", exchange: a.exchange, response: { code: ResponseCode.Content } }, now);
    };
    for (let i = 0; i < 20_000; i++) {
      now += Math.floor(r() * 50);
      if (i % 500 === 0) respond(ep.handle({ type: "request", id: id++, peer: server, request: { method: Method.GET, observe: r() < 0.5, stream: r() < 0.5 } }, now));
      const base = SEEDS[i % SEEDS.length];
      respond(ep.handle({ type: "datagram", peer: r() < 0.5 ? server : { address: "10.0.0.3", port: 9 }, data: mutate(r, base) }, now));
      const d = ep.nextDeadline();
      if (d !== undefined && d <= now) respond(ep.handle({ type: "timer" }, now));
    }
    expect(ep.exchangeCount).toBeLessThanOrEqual(32);
    void ({} as CoapMessage);
  });
});
