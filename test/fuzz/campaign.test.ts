/**
 * The fixed-seed short fuzz campaign `npm test` runs: every target in
 * fuzz/targets/ (every decoder and parser that takes outside bytes or text),
 * a few thousand inputs each, plus the engine's own guarantees, plus one
 * repro per finding already reported (docs/reliability.md "Findings").
 *
 * A failure prints the seed, the input index, the input and the command that
 * replays that one input: `npm run fuzz -- --target T --seed S --index I`.
 * Long runs: `npm run fuzz -- --inputs 1000000`.
 */
import { describe, expect, test } from "vitest";
import { FuzzFailure, Rng, mixSeed, replay, replayCommand, runTarget, type FuzzTarget } from "../../fuzz/engine.js";
import { KNOWN } from "../../fuzz/known.js";
import { randomChunking } from "../../fuzz/mutators.js";
import { TARGETS, targetByName } from "../../fuzz/targets/index.js";
import { UsageError, parseArgs } from "../../cli/args.js";
import { MoteError } from "../../src/errors.js";
import { parseMqttUrl } from "../../src/mqtt/client.js";
import { ConfigError, normalizeConfigValue, toStoredValue } from "../../src/runtime/config.js";

const SEED = 20261124;
/** Inputs per target; the slowest target (mqtt) runs ~10k inputs/s on one core. */
const INPUTS: Record<string, number> = { mqtt: 6000, "session-store": 3000, "coap-endpoint": 2000 };
const DEFAULT_INPUTS = 4000;

describe("fuzz campaign (fixed seed): a typed error or a valid result for every input", () => {
  for (const target of TARGETS) {
    test(`${target.name}: ${target.description}`, () => {
      const r = runTarget(target, { seed: SEED, inputs: INPUTS[target.name] ?? DEFAULT_INPUTS, slowMs: 2000, known: KNOWN });
      const report = r.findings.map((f) => `${f.kind} at index ${f.index}: ${f.message}\n  input: ${f.input}\n  replay: ${replayCommand(f)}`);
      expect(report, report.join("\n\n")).toEqual([]);
      expect(r.inputs).toBe(INPUTS[target.name] ?? DEFAULT_INPUTS);
      // the generators reach both sides of each decoder: some inputs are accepted, some refused
      const accepted = Object.entries(r.outcomes).filter(([k]) => k.startsWith("ok")).reduce((n, [, v]) => n + v, 0);
      const refused = Object.entries(r.outcomes).filter(([k]) => k.startsWith("error") || k === "invalid" || k === "rejected").reduce((n, [, v]) => n + v, 0);
      // (state-machine and store targets have no refusal outcome: faults end as a close or as "nothing stored")
      if (!["session-store", "semver", "mqtt-session", "coap-endpoint"].includes(target.name)) expect(refused, JSON.stringify(r.outcomes)).toBeGreaterThan(r.inputs * 0.02);
      expect(accepted, JSON.stringify(r.outcomes)).toBeGreaterThan(r.inputs * 0.05);
    });
  }

  test("the MQTT generator reaches every packet type of both versions and the codec's refusal codes", () => {
    const r = runTarget(targetByName("mqtt")!, { seed: SEED + 1, inputs: 4000, slowMs: 0 });
    expect(r.findings).toEqual([]);
    for (const t of ["connect", "connack", "publish", "puback", "pubrec", "pubrel", "pubcomp", "subscribe", "suback", "unsubscribe", "unsuback", "pingreq", "pingresp", "disconnect", "auth"]) {
      expect(r.outcomes[`ok:${t}`] ?? 0, `ok:${t}`).toBeGreaterThan(0);
    }
    for (const c of ["malformed-packet", "protocol-error", "packet-too-large"]) expect(r.outcomes[`error:${c}`] ?? 0, c).toBeGreaterThan(0);
  });
});

describe("fuzz engine", () => {
  test("an input is a pure function of (seed, index): replaying one index gives the same input", () => {
    const t = targetByName("mqtt")!;
    const a = t.show(t.generate(new Rng(mixSeed(7, 12345))));
    const b = replay(t, 7, 12345).input;
    expect(b).toBe(a);
    expect(replay(t, 7, 12346).input).not.toBe(a);
  });

  test("the PRNG is uniform enough: 16 buckets over 64k draws each within 10% of the mean", () => {
    const r = new Rng(1);
    const buckets = new Array(16).fill(0);
    for (let i = 0; i < 65536; i++) buckets[r.int(16)]++;
    for (const b of buckets) expect(Math.abs(b - 4096)).toBeLessThan(410);
  });

  test("random chunkings cover the input exactly, in order", () => {
    const r = new Rng(3);
    for (let k = 0; k < 200; k++) {
      const n = r.int(500);
      const ends = randomChunking(r, n);
      expect(ends.length === 0 ? 0 : ends[ends.length - 1]).toBe(n);
      for (let i = 1; i < ends.length; i++) expect(ends[i]).toBeGreaterThan(ends[i - 1]);
    }
  });

  test("a crash and a broken property are reported with seed, index and a replay command; the run goes on", () => {
    const planted: FuzzTarget<number> = {
      name: "planted",
      description: "throws TypeError for multiples of 100, FuzzFailure for 7 mod 100",
      generate: (rng) => rng.int(1000),
      show: (n) => String(n),
      check(n) {
        if (n % 100 === 0) throw new TypeError("boom");
        if (n % 100 === 7) throw new FuzzFailure("property");
        return "ok";
      },
    };
    const r = runTarget(planted, { seed: 5, inputs: 2000, maxFailures: 1000, slowMs: 0 });
    expect(r.inputs).toBe(2000);
    const crashes = r.findings.filter((f) => f.kind === "crash");
    const props = r.findings.filter((f) => f.kind === "property");
    expect(crashes.length).toBeGreaterThan(5);
    expect(props.length).toBeGreaterThan(5);
    const f = crashes[0];
    expect(Number(f.input) % 100).toBe(0);
    expect(replay(planted, f.seed, f.index).input).toBe(f.input);
    expect(replayCommand(f)).toBe(`npm run fuzz -- --target planted --seed 5 --index ${f.index}`);
    expect(f.message).toContain("TypeError");
  });

  test("a slow input is reported as slow (the per-input time bound)", () => {
    const slow: FuzzTarget<number> = {
      name: "slow",
      description: "busy-waits on input 3",
      generate: (rng) => rng.int(10),
      show: String,
      check(n) {
        if (n === 3) {
          const until = performance.now() + 30;
          while (performance.now() < until) {
            /* spin */
          }
        }
        return "ok";
      },
    };
    const r = runTarget(slow, { seed: 1, inputs: 50, slowMs: 20 });
    expect(r.findings.length).toBeGreaterThan(0);
    expect(r.findings.every((f) => f.kind === "slow" && f.input === "3")).toBe(true);
  });
});

/**
 * Findings of this campaign, reported to their owners (docs/reliability.md).
 * Each test states the EXPECTED behaviour. A `test.fails` one fails today;
 * when the fix lands it starts passing, vitest reports the `.fails` mark as
 * wrong, and the mark (and the fuzz/known.ts entry) is removed — as for F1,
 * F2 and F3, which are now plain regression tests (F5, a soak finding, fixed,
 * has its regression test in test/soak/device-program.test.ts).
 */
describe("findings (reported; expected behaviour; .fails until fixed)", () => {
  test("F1 (fixed): parseMqttUrl gives MoteError(invalid-url), not URIError, for a bad %-escape in the user name", () => {
    let caught: unknown;
    try {
      parseMqttUrl("mqtt://%zz@h");
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(MoteError);
    expect((caught as MoteError).code).toBe("invalid-url");
  });

  test("F2 (fixed): a coapObserve entry holding ',' is refused, or else reads back the same from its stored form at the next boot", () => {
    for (const list of [["coap://h/a,b"], ["coap://h/a", "coap://h/b,c", "coap://h/d"]]) {
      let value;
      try {
        value = normalizeConfigValue("coapObserve", list);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        continue;
      }
      const stored = toStoredValue("coapObserve", value);
      expect(normalizeConfigValue("coapObserve", stored)).toEqual(value);
    }
  });

  test("F3 (fixed): parseArgs with a repeatable option named like an Object.prototype member collects its values", () => {
    expect(parseArgs(["--toString", "--toString"], { toString: { repeat: true } }).options.toString).toEqual(["true", "true"]);
  });

  test("F3 does not reach the real option tables: unknown prototype names are refused with UsageError", () => {
    expect(() => parseArgs(["--toString"], { host: { value: true } })).toThrow(UsageError);
    expect(() => parseArgs(["--__proto__=1"], { host: { value: true } })).toThrow(UsageError);
  });
});
