/**
 * The bridge's two decoders, fed bad input: the wire format (wire.ts) and the
 * netstring reader of the xsnap driver. A typed error with a code, never a
 * crash or a hang; good input byte by byte and with trailing bytes.
 */
import { describe, expect, test } from "vitest";
import { decodeMessage, encodeMessage, WireError, type RefHooks, type Tag } from "../../host-shim/xs/wire.js";
import { NetstringReader } from "../../host-shim/xs/xsnap.js";
import { MoteError } from "../../src/errors.js";

const hooks: RefHooks = {
  exportRef: (): Tag => ({ $$: "h", id: 1, s: 1 }),
  importRef: (tag: Tag) => ({ ref: tag.id }),
  isPlain: (v: object) => Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null,
};

function message(json: string, binary: number[] = []): ArrayBuffer {
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(4 + text.length + binary.length);
  new DataView(out.buffer).setUint32(0, text.length, true);
  out.set(text, 4);
  out.set(binary, 4 + text.length);
  return out.buffer;
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MoteError);
    return (e as MoteError).code;
  }
  return undefined;
}

describe("the bridge wire format", () => {
  test("round-trips values, bytes and tags", () => {
    const value = { a: [1, "x", null, undefined], b: new Uint16Array([1, 2, 0xffff]), c: -0, d: 2n ** 70n, e: { $$: "literal" }, __proto__x: 1 };
    const back = decodeMessage(encodeMessage(value, hooks), hooks) as typeof value;
    expect(back.a).toEqual([1, "x", null, undefined]);
    expect(back.b).toEqual(new Uint16Array([1, 2, 0xffff]));
    expect(Object.is(back.c, -0)).toBe(true);
    expect(back.d).toBe(2n ** 70n);
    expect(back.e).toEqual({ $$: "literal" });
  });

  test("refuses malformed messages with code bad-message", () => {
    const bad: ArrayBuffer[] = [
      new ArrayBuffer(0),
      new Uint8Array([1, 2]).buffer,
      message("{"),
      message('{"$$":"zz"}'),
      message('{"$$":"b","t":"Uint8Array","o":0,"n":5}', [1, 2]),
      message('{"$$":"b","t":"Uint8Array","o":-1,"n":1}', [1, 2]),
      message('{"$$":"b","t":"Uint32Array","o":0,"n":3}', [1, 2, 3]),
      message('{"$$":"b","t":"__proto__","o":0,"n":"1"}', [1]),
      message('{"$$":"i","v":"12x"}'),
      message('{"$$":"o","v":3}'),
    ];
    const header = new Uint8Array(8);
    new DataView(header.buffer).setUint32(0, 0xffffffff, true);
    bad.push(header.buffer);
    for (const m of bad) expect(codeOf(() => decodeMessage(m, hooks))).toBe("bad-message");
  });

  test("refuses values nested past the bound both ways, with code too-deep", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(codeOf(() => encodeMessage(deep, hooks))).toBe("too-deep");
    expect(codeOf(() => decodeMessage(message("[".repeat(100) + "]".repeat(100)), hooks))).toBe("too-deep");
  });

  test("a __proto__ key stays data", () => {
    const back = decodeMessage(message('{"__proto__":{"polluted":true}}'), hooks) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(back.__proto__).toEqual({ polluted: true });
  });

  test("random bytes never crash the decoder", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const good = new Uint8Array(encodeMessage({ a: [1, 2, { b: new Uint8Array([1, 2, 3]) }] }, hooks));
    for (let i = 0; i < 2000; i++) {
      const m = good.slice();
      for (let k = 0; k < 1 + (i % 4); k++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
      try {
        decodeMessage(m.buffer, hooks);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    }
  });
});

describe("the xsnap netstring reader", () => {
  const enc = (s: string) => Buffer.from(s, "latin1");

  test("reads messages whole, split byte by byte, and several in one chunk", () => {
    const r = new NetstringReader(1000);
    const got: string[] = [];
    for (const b of enc("5:hello,3:abc,")) got.push(...r.push(Buffer.from([b])).map((m) => m.toString("latin1")));
    expect(got).toEqual(["hello", "abc"]);
    expect(new NetstringReader(1000).push(enc("1:a,0:,2:bc,")).map((m) => m.toString())).toEqual(["a", "", "bc"]);
  });

  test("keeps a partial message for the next chunk", () => {
    const r = new NetstringReader(1000);
    expect(r.push(enc("5:hel"))).toEqual([]);
    expect(r.push(enc("lo,2:x")).map((m) => m.toString())).toEqual(["hello"]);
    expect(r.push(enc("y,")).map((m) => m.toString())).toEqual(["xy"]);
  });

  test("refuses a missing comma, a bad prefix and a length past the bound with code bad-netstring", () => {
    expect(codeOf(() => new NetstringReader(1000).push(enc("3:abcX")))).toBe("bad-netstring");
    expect(codeOf(() => new NetstringReader(1000).push(enc("x:abc,")))).toBe("bad-netstring");
    expect(codeOf(() => new NetstringReader(1000).push(enc("12345678901")))).toBe("bad-netstring");
    expect(codeOf(() => new NetstringReader(10).push(enc("11:")))).toBe("bad-netstring");
  });
});
