import { describe, expect, test } from "vitest";
import { createRequire } from "node:module";
import {
  emptyMessage,
  encodeEmpty,
  CoapFormatError,
  Option,
  code,
  decodeBlock,
  decodeMessage,
  encodeBlock,
  encodeMessage,
  encodeUint,
  decodeUint,
  optionStrings,
  optionUint,
  pathOptions,
  peekHeader,
  stringOption,
  uintOption,
  type CoapMessage,
  type CoapOption,
  type CoapType,
} from "../../src/coap/codec.js";
import { seededRandom as rng } from "../../src/util/prng.js";

const require = createRequire(import.meta.url);
const packet = require("coap-packet") as typeof import("coap-packet");

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const bytes = (...b: number[]) => Uint8Array.from(b);
const text = (s: string) => new TextEncoder().encode(s);

function formatError(f: () => unknown): CoapFormatError {
  try {
    f();
  } catch (e) {
    if (e instanceof CoapFormatError) return e;
    throw e;
  }
  throw new Error("expected a CoapFormatError");
}

describe("RFC 7252 §3 message format", () => {
  test("a GET with token and Uri-Path decodes field by field", () => {
    // CON, TKL 2, GET, MID 0x1234, token a1b2, Uri-Path "temp" (delta 11, len 4)
    const m = decodeMessage(hex("42 01 1234 a1b2 b4 74656d70"));
    expect(m.type).toBe("CON");
    expect(m.code).toBe(1);
    expect(m.messageId).toBe(0x1234);
    expect([...m.token]).toEqual([0xa1, 0xb2]);
    expect(optionStrings(m, Option.UriPath)).toEqual(["temp"]);
    expect(m.payload.length).toBe(0);
  });

  test("option delta and length use the 13 and 14 extensions (§3.1)", () => {
    const long = new Uint8Array(300).fill(0x61);
    const m: CoapMessage = {
      type: "NON",
      code: code(2, 5),
      messageId: 7,
      token: bytes(),
      options: [{ number: Option.ProxyUri, value: long }, stringOption(Option.UriPath, "x".repeat(20)), uintOption(Option.NoResponse, 26)],
      payload: text("hi"),
    };
    const wire = encodeMessage(m);
    // Uri-Path 11 (len 20 -> 13 + 7) first; then Proxy-Uri: delta 24 -> 13 + 11, length 300 -> 14 + (300-269)
    expect([...wire.subarray(4, 6)]).toEqual([0xbd, 7]);
    expect([...wire.subarray(26, 30)]).toEqual([0xde, 11, 0x00, 300 - 269]);
    const back = decodeMessage(wire);
    expect(back.options.map((o) => o.number)).toEqual([Option.UriPath, Option.ProxyUri, Option.NoResponse]);
    expect(optionUint(back, Option.NoResponse)).toBe(26);
    expect(encodeMessage(back)).toEqual(wire);
  });

  test("a message that is only a header is an Empty message; with a token it is refused (§4.1)", () => {
    expect(decodeMessage(hex("60 00 0001")).type).toBe("ACK");
    expect(formatError(() => decodeMessage(hex("61 00 0001 aa"))).code).toBe("bad-empty-message");
  });

  test.each([
    ["too-short", "40 01 00"],
    ["bad-version", "80 01 0001"],
    ["bad-token-length", "49 01 0001 0102030405060708 09"],
    ["too-short", "44 01 0001 aabb"],
    ["reserved-class", "40 20 0001"],
    ["empty-payload", "40 01 0001 ff"],
    ["bad-option-nibble", "40 01 0001 f0"],
    ["bad-option-nibble", "40 01 0001 bf"],
    ["truncated-option", "40 01 0001 d0"],
    ["truncated-option", "40 01 0001 e0 00"],
    ["truncated-option", "40 01 0001 b5 6162"],
    ["unknown-critical-option", "40 01 0001 d0 00"], // option 13 is critical and unassigned
    ["bad-critical-option", "40 01 0001 30"], // Uri-Host must be 1..255 bytes
    ["bad-critical-option", "40 01 0001 71 05 01 06"], // Uri-Port repeated (§5.4.5)
  ])("%s: %s", (expected, h) => {
    const e = formatError(() => decodeMessage(hex(h)));
    expect(e.code).toBe(expected);
  });

  test("unknown or malformed elective options are dropped, not fatal (§5.4.1, §5.4.3)", () => {
    // Option 2 (elective, unassigned), then Max-Age (14, elective) with 5 bytes: too long
    const m = decodeMessage(hex("40 01 0001 21 00 c5 0102030405 ff 6869"));
    expect(m.options).toEqual([]);
    expect(new TextDecoder().decode(m.payload)).toBe("hi");
  });

  test("a fault after the header still reports the header, so a CON can be answered with RST (§4.2)", () => {
    const e = formatError(() => decodeMessage(hex("42 01 beef 0102 f0")));
    expect(e.header?.type).toBe("CON");
    expect(e.header?.messageId).toBe(0xbeef);
    expect(peekHeader(hex("42 01 beef 0102 f0"))?.messageId).toBe(0xbeef);
    expect(peekHeader(hex("42 01"))).toBeUndefined();
  });

  test("uint values are minimal length (§3.2) and blocks pack NUM/M/SZX (RFC 7959 §2.2)", () => {
    expect([...encodeUint(0)]).toEqual([]);
    expect([...encodeUint(255)]).toEqual([255]);
    expect([...encodeUint(256)]).toEqual([1, 0]);
    expect([...encodeUint(0xffffffff)]).toEqual([255, 255, 255, 255]);
    expect(decodeUint(bytes(1, 0, 0))).toBe(65536);
    expect([...encodeBlock({ num: 2, more: true, szx: 6 })]).toEqual([0x2e]);
    expect(decodeBlock(bytes(0x01, 0x0e))).toEqual({ num: 16, more: true, szx: 6 });
    expect(decodeBlock(bytes(0x07))).toBeUndefined();
    expect(() => encodeUint(-1)).toThrow(CoapFormatError);
  });

  test("paths become Uri-Path options with percent-decoding (§6.5)", () => {
    const opts = pathOptions("/a%20b/c/");
    expect(opts.map((o) => new TextDecoder().decode(o.value))).toEqual(["a b", "c"]);
  });
});

// ---------------------------------------------------------------------------
// Differential against coap-packet (the oracle), seeded and bounded.

const KNOWN: { n: number; name: string; kind: "uint" | "string" | "opaque" | "empty"; min: number; max: number; rep: boolean }[] = [
  { n: 1, name: "If-Match", kind: "opaque", min: 0, max: 8, rep: true },
  { n: 3, name: "Uri-Host", kind: "string", min: 1, max: 40, rep: false },
  { n: 4, name: "ETag", kind: "opaque", min: 1, max: 8, rep: true },
  { n: 5, name: "If-None-Match", kind: "empty", min: 0, max: 0, rep: false },
  { n: 6, name: "Observe", kind: "uint", min: 0, max: 3, rep: false },
  { n: 7, name: "Uri-Port", kind: "uint", min: 0, max: 2, rep: false },
  { n: 8, name: "Location-Path", kind: "string", min: 0, max: 30, rep: true },
  { n: 11, name: "Uri-Path", kind: "string", min: 0, max: 255, rep: true },
  { n: 12, name: "Content-Format", kind: "uint", min: 0, max: 2, rep: false },
  { n: 14, name: "Max-Age", kind: "uint", min: 0, max: 4, rep: false },
  { n: 15, name: "Uri-Query", kind: "string", min: 0, max: 30, rep: true },
  { n: 17, name: "Accept", kind: "uint", min: 0, max: 2, rep: false },
  { n: 20, name: "Location-Query", kind: "string", min: 0, max: 30, rep: true },
  { n: 23, name: "Block2", kind: "uint", min: 0, max: 3, rep: false },
  { n: 27, name: "Block1", kind: "uint", min: 0, max: 3, rep: false },
  { n: 28, name: "Size2", kind: "uint", min: 0, max: 4, rep: false },
  { n: 35, name: "Proxy-Uri", kind: "string", min: 1, max: 300, rep: false },
  { n: 39, name: "Proxy-Scheme", kind: "string", min: 1, max: 20, rep: false },
  { n: 60, name: "Size1", kind: "uint", min: 0, max: 4, rep: false },
  { n: 258, name: "No-Response", kind: "uint", min: 0, max: 1, rep: false },
];
const TYPES: CoapType[] = ["CON", "NON", "ACK", "RST"];

function randomMessage(r: () => number): CoapMessage {
  const int = (n: number) => Math.floor(r() * n);
  const options: CoapOption[] = [];
  const count = int(6);
  const used = new Set<number>();
  for (let k = 0; k < count; k++) {
    const spec = KNOWN[int(KNOWN.length)];
    if (!spec.rep && used.has(spec.n)) continue;
    used.add(spec.n);
    let value: Uint8Array;
    if (spec.kind === "uint") value = encodeUint(int(2 ** (8 * spec.max)));
    else {
      const len = spec.min + int(spec.max - spec.min + 1);
      value = new Uint8Array(len);
      for (let i = 0; i < len; i++) value[i] = spec.kind === "string" ? 0x61 + int(26) : int(256);
    }
    options.push({ number: spec.n, value });
  }
  options.sort((a, b) => a.number - b.number);
  const cls = [0, 2, 4, 5][int(4)];
  const payload = new Uint8Array(int(3) === 0 ? 0 : int(200));
  for (let i = 0; i < payload.length; i++) payload[i] = int(256);
  const token = new Uint8Array(int(9));
  for (let i = 0; i < token.length; i++) token[i] = int(256);
  return { type: TYPES[int(4)], code: code(cls, cls === 0 ? 1 + int(7) : int(32)), messageId: int(65536), token, options, payload };
}

function toOracle(m: CoapMessage) {
  return {
    confirmable: m.type === "CON",
    reset: m.type === "RST",
    ack: m.type === "ACK",
    code: `${m.code >> 5}.${String(m.code & 31).padStart(2, "0")}`,
    messageId: m.messageId,
    token: Buffer.from(m.token),
    options: m.options.map((o) => ({ name: KNOWN.find((k) => k.n === o.number)!.name, value: Buffer.from(o.value) })),
    payload: Buffer.from(m.payload),
  };
}

describe("differential against coap-packet", () => {
  test("500 seeded random messages encode to the same bytes and decode to the same fields", () => {
    const r = rng(0xc0a9);
    for (let i = 0; i < 500; i++) {
      const m = randomMessage(r);
      const ours = encodeMessage(m);
      const theirs = packet.generate(toOracle(m), 4096);
      expect(Buffer.from(ours).equals(theirs)).toBe(true);
      const parsed = packet.parse(Buffer.from(ours));
      const back = decodeMessage(ours);
      expect(back.messageId).toBe(parsed.messageId);
      expect(Buffer.from(back.token).equals(parsed.token)).toBe(true);
      expect(back.type === "CON").toBe(parsed.confirmable);
      expect(back.type === "ACK").toBe(parsed.ack);
      expect(back.options.map((o) => [o.number, Buffer.from(o.value).toString("hex")])).toEqual(
        parsed.options.map((o) => [KNOWN.find((k) => k.name === o.name)!.n, o.value.toString("hex")]),
      );
      expect(Buffer.from(back.payload).equals(parsed.payload)).toBe(true);
      expect(encodeMessage(back)).toEqual(ours); // byte-exact re-encode
    }
  });

  test("every truncation of a valid message gives a typed error or a shorter valid message, never a crash", () => {
    const r = rng(7);
    for (let i = 0; i < 100; i++) {
      const wire = encodeMessage(randomMessage(r));
      for (let cut = 0; cut < wire.length; cut++) {
        try {
          decodeMessage(wire.subarray(0, cut));
        } catch (e) {
          expect(e).toBeInstanceOf(CoapFormatError);
        }
      }
    }
  });

  test("random and mutated datagrams give a typed error or a message that re-encodes, never a crash", () => {
    const r = rng(99);
    for (let i = 0; i < 3000; i++) {
      let data: Uint8Array;
      if (i % 2 === 0) {
        data = new Uint8Array(Math.floor(r() * 40));
        for (let k = 0; k < data.length; k++) data[k] = Math.floor(r() * 256);
        if (data.length > 0) data[0] = (data[0] & 0x3f) | 0x40; // mostly version 1
      } else {
        data = encodeMessage(randomMessage(r)).slice();
        for (let k = 0; k < 3; k++) data[Math.floor(r() * data.length)] = Math.floor(r() * 256);
      }
      try {
        const m = decodeMessage(data);
        const again = decodeMessage(encodeMessage(m));
        expect(again.options).toEqual(m.options);
      } catch (e) {
        expect(e).toBeInstanceOf(CoapFormatError);
      }
    }
  });
});

describe("encodeEmpty", () => {
  test("gives the bytes encodeMessage gives an Empty message of each type, for any message id", () => {
    for (const type of ["CON", "NON", "ACK", "RST"] as const)
      for (const mid of [0, 1, 0xff, 0x100, 0x1234, 0xffff]) expect(encodeEmpty(type, mid)).toEqual(encodeMessage(emptyMessage(type, mid)));
    // into a buffer used before: every byte written
    const into = Uint8Array.of(0xff, 0xff, 0xff, 0xff);
    expect(encodeEmpty("ACK", 0x0102, into)).toBe(into);
    expect(into).toEqual(encodeMessage(emptyMessage("ACK", 0x0102)));
  });
});
