import { describe, expect, test } from "vitest";
import { JsonWriter, jsonBytes, jsonKey } from "../../src/util/json-bytes";
import { COUNTER_NAMES, zeroCounters } from "../../src/runtime/health";
import { MoteError } from "../../src/errors";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const stringify = (v: unknown) => Array.from(new TextEncoder().encode(JSON.stringify(v)));
const K = jsonKey("k");

/** One member written with value(), against JSON.stringify of the same object. */
function one(v: unknown): number[] {
  const w = new JsonWriter(8);
  w.begin();
  w.value(K, v);
  return Array.from(w.end());
}

describe("JsonWriter: the bytes of encodeUtf8(JSON.stringify(record))", () => {
  test("numbers: integers digit by digit, fractions, exponents, -0, NaN and infinities", () => {
    const numbers = [0, -0, 1, -1, 9, 10, 99, 100, 12345, -987654321, 2 ** 31, 2 ** 32 + 1, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1e21, 1e-7, 0.1, 21.37, -3.5, 5e-324, Number.MAX_VALUE, NaN, Infinity, -Infinity];
    for (const n of numbers) expect(one(n), String(n)).toEqual(stringify({ k: n }));
  });
  test("fractions written as digits are byte for byte what JSON.stringify writes: 60,000 values of every shape, seeded", () => {
    let seed = 20261206;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 0x1_0000_0000);
    const edges = [1e-6, -1e-6, 9.99e-7, 0.000001, 0.1, 0.2 + 0.1, 1.005, 0.5, 999999999.5, 1e9 + 0.5, 123456.789012, 0.0625, 2.675, 1 / 3];
    const values: number[] = [...edges];
    for (let i = 0; i < 10_000; i++) {
      const scale = 10 ** Math.floor(rnd() * 12 - 4); // 1e-4 .. 1e7
      const x = (rnd() - 0.5) * scale;
      values.push(x, Math.round(x * 100) / 100, Math.round(x * 1e6) / 1e6, Math.round(x * 10) / 10, x / 7, Math.fround(x));
    }
    for (const n of values) expect(one(n), String(n)).toEqual(stringify({ k: n }));
  });
  test("names and strings: quotes, escapes, controls, non-ASCII and lone surrogates, as JSON.stringify writes them", () => {
    for (const s of ["", "plain", 'say "hi"', "back\\slash", "\b\t\n\f\r\u0001", "é€日本", "𝄞 clef", "a\ud800b"]) {
      expect(one(s), JSON.stringify(s)).toEqual(stringify({ k: s }));
      const w = new JsonWriter();
      w.begin();
      w.number(jsonKey(s), 1);
      expect(text(w.end())).toBe(JSON.stringify({ [s]: 1 }));
    }
  });
  test("other values go through JSON.stringify; undefined, functions and symbols are left out", () => {
    for (const v of [true, false, null, [1, "a", null], { a: { b: [2.5] } }, { toJSON: () => "x" }, new Date(0), undefined, () => 1, Symbol("s")])
      expect(one(v)).toEqual(stringify({ k: v }));
    expect(jsonBytes(undefined)).toBeUndefined();
  });
  test("a whole telemetry record: members left out where undefined, nested objects, the scratch reused", () => {
    const counters = { ...zeroCounters(), msgsOut: 41, telemetrySent: 40 };
    const w = new JsonWriter(16);
    w.begin();
    w.number(jsonKey("boot"), 3);
    w.number(jsonKey("seq"), 41);
    w.bytes(jsonKey("version"), jsonBytes("1.2.3"));
    w.number(jsonKey("uptimeMs"), 123_456);
    w.number(jsonKey("freeHeap"), undefined);
    w.bytes(jsonKey("none"), undefined);
    w.number(jsonKey("rssi"), -61);
    w.open(jsonKey("counters"));
    for (const k of COUNTER_NAMES) w.number(jsonKey(k), counters[k]);
    w.close();
    w.open(jsonKey("sensor"));
    w.value(jsonKey("demo"), 21.5);
    w.close();
    const record = { boot: 3, seq: 41, version: "1.2.3", uptimeMs: 123_456, freeHeap: undefined, rssi: -61, counters, sensor: { demo: 21.5 } };
    const first = w.end();
    expect(Array.from(first)).toEqual(stringify(record));
    w.begin();
    w.bytes(jsonKey("a"), jsonBytes("b"));
    expect(text(w.end())).toBe('{"a":"b"}');
    expect(Array.from(first)).toEqual(stringify(record)); // end() gave a copy, not the scratch
  });
  test("zeroCounters() has every counter of a telemetry record, at 0, in the record's order", () => {
    const names = ["msgsIn", "msgsOut", "msgsDropped", "telemetrySent", "commands", "commandErrors", "coapNotifications", "wifiDrops", "mqttConnects"];
    expect(zeroCounters()).toEqual(Object.fromEntries(names.map((n) => [n, 0])));
    expect(Object.keys(zeroCounters())).toEqual(names);
    expect([...COUNTER_NAMES]).toEqual(names);
  });
  test("end() closes what is still open", () => {
    const w = new JsonWriter(4);
    w.begin();
    w.open(jsonKey("a"));
    w.open(jsonKey("b"));
    w.number(jsonKey("c"), 1);
    expect(text(w.end())).toBe('{"a":{"b":{"c":1}}}');
  });
  test("endView() is end() without the copy: a view of the scratch, overwritten by the next record", () => {
    const w = new JsonWriter(4);
    w.begin();
    w.open(jsonKey("a"));
    w.number(jsonKey("b"), 12);
    const view = w.endView();
    expect(text(view)).toBe('{"a":{"b":12}}');
    const copy = view.slice();
    w.begin();
    w.number(jsonKey("z"), 9);
    expect(text(w.endView())).toBe('{"z":9}');
    expect(text(view)).not.toBe(text(copy)); // the old view now shows the new record's bytes
    w.begin();
    w.number(jsonKey("z"), 9);
    const owned = w.end();
    w.begin();
    w.number(jsonKey("y"), 1);
    expect(text(owned)).toBe('{"z":9}'); // end()'s copy is the caller's
  });
  test("bounded: a record over maxBytes throws overflow, and the writer goes on with the next", () => {
    const w = new JsonWriter(8, 64);
    w.begin();
    let caught: unknown;
    try {
      w.bytes(jsonKey("big"), jsonBytes("x".repeat(100)));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(MoteError);
    expect((caught as MoteError).code).toBe("overflow");
    w.begin();
    w.number(K, 1);
    expect(text(w.end())).toBe('{"k":1}');
  });
  test("misuse is a typed error: a member before begin(), close() with nothing open", () => {
    const w = new JsonWriter();
    expect(() => w.number(K, 1)).toThrow(expect.objectContaining({ code: "invalid-state" }));
    w.begin();
    w.close();
    expect(() => w.close()).toThrow(expect.objectContaining({ code: "invalid-state" }));
  });
});
