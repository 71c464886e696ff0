/**
 * The fuzz engine: a seeded PRNG, a target contract and a driver loop.
 *
 * Theory of operation
 * - Every input is a pure function of (seed, index): the driver builds a fresh
 *   `Rng` from `mixSeed(seed, index)` for each input, so one failing input is
 *   replayed alone with `--seed S --index I` (no need to re-run the I inputs
 *   before it) and a run on N workers splits the index range.
 * - A target has two halves: `generate(rng)` makes one input (random bytes,
 *   a mutation of a valid one, or a structure-aware construction — the
 *   target chooses per input) and `check(input)` runs the decoder and asserts
 *   the property: a valid result or the area's typed error, never another
 *   exception; bounded work (iteration counts inside check); bounded output
 *   (sizes compared with the input's); and where an encoder exists, a decoded
 *   value re-encodes to an equivalent one.
 * - A violated property throws `FuzzFailure`; any other exception escaping
 *   `check` is a crash. Both are recorded with seed, index and a printable
 *   input; the driver keeps going (up to `maxFailures`).
 * - Hangs: synchronous code cannot be interrupted from the same thread, so
 *   the driver (a) times every input and reports inputs slower than
 *   `slowMs` as "slow", and (b) publishes the index it is working on through
 *   `progress` so a watchdog in another thread (fuzz/worker.ts) can name the
 *   input that never returned.
 *
 * This file is host code (Node or vitest), not device code.
 */

/** splitmix32-style mixer of a seed and an input index into a 32-bit state. */
export function mixSeed(seed: number, index: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index >>> 0, 0x85ebca77) ^ Math.floor(index / 0x100000000)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad);
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97);
  return (h ^ (h >>> 15)) >>> 0;
}

/** xoshiro128** — small, fast, good enough for fuzzing, fully reproducible. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  constructor(seed: number) {
    // expand with splitmix32 so nearby seeds give unrelated streams
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next() | 1;
  }
  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return r;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    if (n <= 1) return 0;
    if (n <= 0x100000000) return Math.floor((this.u32() / 0x100000000) * n);
    return Math.floor(this.float() * n);
  }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  float(): number {
    return this.u32() / 0x100000000;
  }
  bool(p = 0.5): boolean {
    return this.float() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  /** Small numbers far more often than large ones (lengths, counts). */
  size(max: number): number {
    const r = this.float();
    const n = r < 0.5 ? this.int(Math.min(max, 8) + 1) : r < 0.85 ? this.int(Math.min(max, 64) + 1) : this.int(max + 1);
    return Math.min(n, max);
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A property of the target does not hold for this input (not a crash of the decoder). */
export class FuzzFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FuzzFailure";
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new FuzzFailure(message);
}

/** One decoder under test. */
export interface FuzzTarget<I = unknown> {
  readonly name: string;
  /** What is fed and what the property is (one line, shown by `--list`). */
  readonly description: string;
  generate(rng: Rng): I;
  /** Runs the decoder on `input`; throws FuzzFailure when a property fails. Returns an outcome label for statistics. */
  check(input: I): string;
  /** The input as text to paste into a repro (hex for bytes, JSON for text/values). */
  show(input: I): string;
}

export interface Finding {
  target: string;
  seed: number;
  index: number;
  kind: "crash" | "property" | "slow";
  message: string;
  input: string;
  ms?: number;
}

export interface RunOptions {
  seed: number;
  /** Inputs to run (indexes start .. start+inputs-1). */
  inputs: number;
  start?: number;
  /** Stop after this many findings (default 20). */
  maxFailures?: number;
  /** An input slower than this is a "slow" finding (default 250 ms). 0 turns it off. */
  slowMs?: number;
  /** Shared progress cell: the index being worked on is written before each input. */
  progress?: Int32Array;
  /** Findings already reported: counted as outcome `known:<id>` instead of stopping the run. */
  known?: readonly { id: string; target: string; matches(f: Pick<Finding, "kind" | "message" | "input">): boolean }[];
  /** Called every `reportEvery` inputs (default 100,000). */
  onProgress?(done: number, elapsedMs: number): void;
  reportEvery?: number;
}

export interface RunResult {
  target: string;
  seed: number;
  inputs: number;
  ms: number;
  inputsPerSecond: number;
  findings: Finding[];
  /** Outcome label -> count (e.g. "ok:publish", "error:malformed-packet"). */
  outcomes: Record<string, number>;
  /** Heap still in use after a gc at the end minus at the start (long runs; needs --expose-gc). */
  heapGrowthBytes?: number;
}

function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return `${e.name}${code !== undefined ? `[${String(code)}]` : ""}: ${e.message}${e.stack ? `\n${e.stack.split("\n").slice(1, 5).join("\n")}` : ""}`;
  }
  return `non-Error thrown: ${String(e)}`;
}

/** Runs `target` over `options.inputs` inputs. Never throws for a finding. */
export function runTarget<I>(target: FuzzTarget<I>, options: RunOptions): RunResult {
  const start = options.start ?? 0;
  const maxFailures = options.maxFailures ?? 20;
  const slowMs = options.slowMs ?? 250;
  const reportEvery = options.reportEvery ?? 100_000;
  const findings: Finding[] = [];
  const outcomes: Record<string, number> = {};
  const t0 = performance.now();
  let done = 0;
  for (let k = 0; k < options.inputs && findings.length < maxFailures; k++) {
    const index = start + k;
    if (options.progress) Atomics.store(options.progress, 0, index);
    const rng = new Rng(mixSeed(options.seed, index));
    let input: I;
    try {
      input = target.generate(rng);
    } catch (e) {
      findings.push({ target: target.name, seed: options.seed, index, kind: "crash", message: `generator failed: ${describeError(e)}`, input: "" });
      continue;
    }
    const before = slowMs > 0 ? performance.now() : 0;
    try {
      const outcome = target.check(input);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    } catch (e) {
      const f: Finding = {
        target: target.name,
        seed: options.seed,
        index,
        kind: e instanceof FuzzFailure ? "property" : "crash",
        message: describeError(e),
        input: safeShow(target, input),
      };
      const k = options.known?.find((x) => x.target === target.name && x.matches(f));
      if (k) outcomes[`known:${k.id}`] = (outcomes[`known:${k.id}`] ?? 0) + 1;
      else findings.push(f);
    }
    if (slowMs > 0) {
      const ms = performance.now() - before;
      if (ms > slowMs) {
        findings.push({ target: target.name, seed: options.seed, index, kind: "slow", message: `input took ${ms.toFixed(0)} ms`, input: safeShow(target, input), ms });
      }
    }
    done++;
    if (options.onProgress && done % reportEvery === 0) options.onProgress(done, performance.now() - t0);
  }
  const ms = performance.now() - t0;
  return { target: target.name, seed: options.seed, inputs: done, ms, inputsPerSecond: (done / ms) * 1000, findings, outcomes };
}

function safeShow<I>(target: FuzzTarget<I>, input: I): string {
  try {
    const s = target.show(input);
    return s.length > 4000 ? s.slice(0, 4000) + `… (${s.length} chars)` : s;
  } catch (e) {
    return `<show failed: ${String(e)}>`;
  }
}

/** Rebuilds one input: the same (seed, index) gives the same input. `check(value)` runs it. */
export function replay<I>(target: FuzzTarget<I>, seed: number, index: number): { input: string; value: I } {
  const value = target.generate(new Rng(mixSeed(seed, index)));
  return { input: target.show(value), value };
}

/** One line a person pastes into a shell to replay a finding. */
export function replayCommand(f: Pick<Finding, "target" | "seed" | "index">): string {
  return `npm run fuzz -- --target ${f.target} --seed ${f.seed} --index ${f.index}`;
}

// ---------------------------------------------------------------- printing helpers

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  return s;
}

export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/[^0-9a-fA-F]/g, "");
  const out = new Uint8Array(clean.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Structural equality for decoder results: plain objects, arrays, typed arrays, primitives. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === "number" && typeof b === "number") return Number.isNaN(a) && Number.isNaN(b);
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/** JSON for findings: Uint8Array as hex, bounded length. */
export function showValue(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? `hex:${hex(x)}` : x === undefined ? "<undefined>" : x));
}
