/**
 * Random and mutated input into every OTA decoder and core: a typed error
 * (OtaError / an error event / a fail action), never a crash or a hang.
 * Seeded, so a failure reproduces.
 */
import { describe, expect, test } from "vitest";
import { HttpGet } from "../../src/http/get.js";
import { parseUrl } from "../../src/http/url.js";
import { parseOtaCommand } from "../../src/ota/agent.js";
import { acceptDescriptor, canonicalDescriptorBytes, encodeDescriptor, parseDescriptor } from "../../src/ota/descriptor.js";
import { OtaError } from "../../src/ota/errors.js";
import { parsePublicKey } from "../../src/ota/keys.js";
import { Updater } from "../../src/ota/updater.js";
import { nodeOtaCrypto } from "../../cli/ota-sign.js";
import { descriptorText, Driver, makeImage, MemFlash, PUBLIC_KEY, signedFor, updaterOptions } from "../unit/ota-fakes.js";

function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

function mutate(bytes: Uint8Array, r: (n: number) => number): Uint8Array {
  const out = Array.from(bytes);
  const edits = 1 + r(4);
  for (let e = 0; e < edits; e++) {
    const at = r(out.length + 1);
    switch (r(4)) {
      case 0:
        if (out.length) out[at % out.length] = r(256);
        break;
      case 1:
        out.splice(at, 1 + r(8));
        break;
      case 2:
        out.splice(at, 0, ...Array.from({ length: 1 + r(8) }, () => r(256)));
        break;
      case 3:
        out.splice(at, 0, ...Array.from(new TextEncoder().encode(['"', "{", "}", "[", ",", ":", "\\u0000", "1e999", "null"][r(9)])));
        break;
    }
  }
  return new Uint8Array(out);
}

const IMAGE = makeImage(9000, 5);
const GOOD = signedFor(IMAGE);
const GOOD_BYTES = new TextEncoder().encode(descriptorText(GOOD));
const POLICY = { board: "sim", runningVersion: "1.0.0", maxSize: 1 << 20 };

describe("descriptor fuzz", () => {
  test("3,000 mutated descriptors: OtaError or accepted with the same signed content", () => {
    const r = rng(99);
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const input = mutate(GOOD_BYTES, r);
      try {
        const d = acceptDescriptor(input, { publicKey: PUBLIC_KEY, crypto: nodeOtaCrypto, policy: POLICY });
        expect(canonicalDescriptorBytes(d)).toEqual(canonicalDescriptorBytes(GOOD)); // only harmless edits (whitespace) pass
        accepted++;
      } catch (e) {
        expect(e).toBeInstanceOf(OtaError);
      }
    }
    expect(accepted).toBeLessThan(3000);
  });

  test("random bytes and random JSON values are bad-descriptor", () => {
    const r = rng(7);
    for (let i = 0; i < 2000; i++) {
      const bytes = new Uint8Array(r(300)).map(() => r(256));
      expect(() => parseDescriptor(bytes)).toThrow(OtaError);
    }
    const values = [0, -1, "x", true, null, [], [1, [2]], { format: 1 }, { ...GOOD, size: -0 }, { ...GOOD, size: 1e300 }, { ...GOOD, urls: [] }];
    for (const v of values) expect(() => parseDescriptor(JSON.stringify(v))).toThrow(OtaError);
  });

  test("cmd/ota payloads and key text never throw anything but OtaError", () => {
    const r = rng(3);
    const seeds = [GOOD_BYTES, new TextEncoder().encode(`{"url":"http://a/b.json"}`), new TextEncoder().encode(`{"descriptor":${encodeDescriptor(GOOD)}}`)];
    for (let i = 0; i < 2000; i++) {
      const input = mutate(seeds[i % seeds.length], r);
      try {
        parseOtaCommand(input);
      } catch (e) {
        expect(e).toBeInstanceOf(OtaError);
      }
      try {
        parsePublicKey(new TextDecoder().decode(input));
      } catch (e) {
        expect(e).toBeInstanceOf(OtaError);
      }
    }
  });
});

describe("HTTP exchange fuzz", () => {
  test("random and mutated responses end in at most one close, without throwing", () => {
    const r = rng(11);
    const valid = new TextEncoder().encode("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/10\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n");
    for (let i = 0; i < 2000; i++) {
      const g = new HttpGet({ request: { url: parseUrl("http://h/x")! } });
      g.handle({ type: "start" }, 0);
      g.handle({ type: "open" }, 0);
      const wire = i % 2 ? mutate(valid, r) : new Uint8Array(r(400)).map(() => r(256));
      let closes = 0;
      for (let at = 0; at < wire.length; ) {
        const n = 1 + r(64);
        closes += g.handle({ type: "bytes", data: wire.subarray(at, at + n) }, 0).filter((a) => a.type === "close").length;
        at += n;
      }
      closes += g.handle({ type: "closed" }, 0).filter((a) => a.type === "close").length;
      expect(closes).toBe(1);
    }
  });
});

describe("updater fuzz", () => {
  test("300 random servers: every update ends (done with the exact image, or a typed fail) within bounded steps", () => {
    const r = rng(2024);
    let done = 0;
    for (let round = 0; round < 300; round++) {
      const flash = new MemFlash(64 * 1024);
      const d = new Driver(new Updater(updaterOptions(flash, { retryDelayMs: 10, maxAttempts: 4 })), flash);
      d.feed({ type: "start", descriptor: descriptorText(GOOD) });
      for (let step = 0; step < 200 && d.updater.state !== "done" && d.updater.state !== "failed"; step++) {
        if (d.updater.state === "waiting-retry") {
          d.now = d.updater.nextDeadline()!;
          d.feed({ type: "timer" });
          continue;
        }
        const from = d.fetches[d.fetches.length - 1];
        const mode = r(10);
        if (mode === 0) d.feed({ type: "response", status: [200, 206, 301, 404, 416, 500, 503][r(7)], contentLength: r(20_000) });
        else if (mode === 1) d.feed({ type: "fetch-failed", code: (["network", "timeout", "closed", "bad-response"] as const)[r(4)] });
        else if (mode === 2) {
          const start = r(2) ? from : 0; // sometimes the server ignores Range
          d.feed({ type: "response", status: start === from && from > 0 ? 206 : 200, ...(start === from && from > 0 ? { contentRange: { start, end: IMAGE.length - 1, total: IMAGE.length } } : {}) });
          const body = IMAGE.subarray(start, start + r(IMAGE.length + 1));
          d.body(r(5) === 0 ? body.map((b) => b ^ 1) : body, 1 + r(3000));
          if (d.updater.state === "downloading") d.feed(r(2) ? { type: "end" } : { type: "fetch-failed", code: "closed" });
        } else d.serve(IMAGE, r(2) ? { cut: r(IMAGE.length) } : {});
      }
      expect(["done", "failed"]).toContain(d.updater.state);
      if (d.updater.state === "done") {
        done++;
        expect(flash.bytes.subarray(0, IMAGE.length)).toEqual(IMAGE);
      } else {
        expect(d.failure()).toBeTypeOf("string");
        expect(d.switched).toBe(false);
      }
    }
    expect(done).toBeGreaterThan(0);
  });
});
