import { describe, expect, test } from "vitest";
import { Backoff, seededRandom } from "../../src/runtime/backoff.js";
import { MoteError } from "../../src/errors.js";

const always = (r: number) => () => r;

describe("Backoff", () => {
  test("the ceiling doubles per consecutive failure and stops at maxMs", () => {
    const b = new Backoff({ baseMs: 100, maxMs: 1000, rng: always(0.999999) });
    const delays = [0, 1, 2, 3, 4, 5].map(() => b.failed(0));
    expect(delays).toEqual([99, 199, 399, 799, 999, 999]);
  });

  test("full jitter draws the delay from [0, ceiling)", () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 1000, rng: always(0) });
    expect(b.failed(0)).toBe(0);
    const c = new Backoff({ baseMs: 1000, maxMs: 1000, rng: always(0.25) });
    expect(c.failed(0)).toBe(250);
  });

  test("minMs keeps a failure from retrying at once", () => {
    const b = new Backoff({ baseMs: 1000, minMs: 50, rng: always(0) });
    expect(b.failed(0)).toBe(50);
  });

  test("a link that stayed up for stableMs starts over from baseMs", () => {
    const b = new Backoff({ baseMs: 100, maxMs: 10_000, stableMs: 5000, rng: always(0.999999) });
    b.failed(0);
    b.failed(0);
    b.failed(0);
    expect(b.ceiling()).toBe(800);
    b.succeeded(1000);
    expect(b.failed(6000)).toBe(99); // up 5 s: reset
  });

  test("a link that flaps keeps climbing", () => {
    const b = new Backoff({ baseMs: 100, maxMs: 10_000, stableMs: 5000, rng: always(0.999999) });
    b.failed(0);
    b.succeeded(100);
    expect(b.failed(200)).toBe(199); // up only 100 ms
    b.succeeded(300);
    expect(b.failed(400)).toBe(399);
  });

  test("a broken rng cannot produce NaN, negative or infinite delays", () => {
    for (const r of [NaN, -1, 2, Infinity]) {
      const d = new Backoff({ baseMs: 100, rng: always(r) }).failed(0);
      expect(Number.isFinite(d) && d >= 0 && d < 100).toBe(true);
    }
  });

  test("the ceiling never overflows however many failures", () => {
    const b = new Backoff({ baseMs: 1, maxMs: 60_000, rng: seededRandom(3) });
    for (let i = 0; i < 5000; i++) expect(b.failed(i)).toBeLessThan(60_000);
    expect(b.attempts).toBe(5000);
  });

  test("bad options are refused with a typed error", () => {
    for (const bad of [{ baseMs: 0 }, { baseMs: NaN }, { maxMs: 10, baseMs: 100 }, { factor: 0.5 }, { minMs: 10, maxMs: 5, baseMs: 1 }]) {
      expect(() => new Backoff({ rng: Math.random, ...bad })).toThrow(MoteError);
      try {
        new Backoff({ rng: Math.random, ...bad });
      } catch (e) {
        expect((e as MoteError).code).toBe("invalid-option");
      }
    }
    expect(() => new Backoff({} as never)).toThrow(/invalid-option/);
  });

  test("delays over many runs spread across the whole window (jitter, not lock-step)", () => {
    const rng = seededRandom(42);
    const seen = new Set<number>();
    for (let i = 0; i < 100; i++) seen.add(Math.floor(new Backoff({ baseMs: 1000, rng }).failed(0) / 100));
    expect(seen.size).toBe(10);
  });
});
