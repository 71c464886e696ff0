/**
 * Small timing helpers for bench/<group>.ts (run by bench/run.mjs).
 *
 *   const r = measure(() => encode(packet), { minMs: 300 });   // { ops, ms, opsPerSec }
 *   const x = await measureInXs("bench/mqtt-xs.ts", "encodePublish", { size: 64 });
 *   emit({ metric: "codec_publish_64B", unit: "packets/s", mote: x.opsPerSec, peer: "mqtt-packet",
 *          peer_value: p.opsPerSec, ratio: x.opsPerSec / p.opsPerSec, engine: "xs" });
 * A figure's peer runs in the same process run, on the same inputs (DESIGN.md §8).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleForXs, projectRoot, startXs, type XsMeters } from "../host-shim/xs/engine.js";

export interface Figure {
  metric: string;
  unit: string;
  mote: number;
  peer?: string | null;
  peer_value?: number | null;
  /** > 1 means mote is better. */
  ratio?: number | null;
  engine?: "xs" | "node";
  [extra: string]: unknown;
}

export type Emit = (figure: Figure) => void;

export interface Timing {
  ops: number;
  ms: number;
  opsPerSec: number;
}

export interface MeasureOptions {
  /** Calls before timing starts. Default 100. */
  warmup?: number;
  /** Time at least this long. Default 300 ms. */
  minMs?: number;
  /** And at most this many calls. Default 10,000,000. */
  maxOps?: number;
}

/** Calls `fn` repeatedly (after a warm-up) for at least minMs; bounded by maxOps. */
export function measure(fn: () => unknown, options: MeasureOptions = {}): Timing {
  const { warmup = 100, minMs = 300, maxOps = 10_000_000 } = options;
  for (let i = 0; i < warmup; i++) fn();
  let ops = 0;
  let batch = 1;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs && ops < maxOps) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    elapsed = performance.now() - start;
    if (elapsed < minMs / 10) batch *= 2;
  }
  return { ops, ms: elapsed, opsPerSec: (ops / elapsed) * 1000 };
}

/** Async variant: awaits each call. */
export async function measureAsync(fn: () => Promise<unknown>, options: MeasureOptions = {}): Promise<Timing> {
  const { warmup = 10, minMs = 300, maxOps = 1_000_000 } = options;
  for (let i = 0; i < warmup; i++) await fn();
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs && ops < maxOps) {
    await fn();
    ops++;
    elapsed = performance.now() - start;
  }
  return { ops, ms: elapsed, opsPerSec: (ops / elapsed) * 1000 };
}

/** The XS-side loop: same shape as measure(), with XS's own clock, so no round trip per call. */
const XS_HARNESS = `
const g = globalThis;
g.__moteBench = (req) => {
  const fn = g[req.name];
  if (typeof fn !== "function") throw new Error("no global function " + req.name + " in the bench entry");
  for (let i = 0; i < req.warmup; i++) fn(req.args);
  let ops = 0, batch = 1, elapsed = 0;
  const start = performance.now();
  while (elapsed < req.minMs && ops < req.maxOps) {
    for (let i = 0; i < batch; i++) fn(req.args);
    ops += batch;
    elapsed = performance.now() - start;
    if (elapsed < req.minMs / 10) batch *= 2;
  }
  return { ops, ms: elapsed };
};
`;

export interface XsTiming extends Timing, XsMeters {}

/**
 * Runs globalThis[fnName](args) in a loop inside a real XS engine (the entry
 * file sets it), and reports ops/s plus XS's heap meters after a gc.
 */
export async function measureInXs(
  entryFile: string,
  fnName: string,
  args?: unknown,
  options: MeasureOptions & { hostModules?: Record<string, Record<string, unknown>> } = {},
): Promise<XsTiming> {
  // Generated files live outside the tree (not type-checked, not committed).
  const outDir = join(tmpdir(), "mote-bench");
  mkdirSync(outDir, { recursive: true });
  const harness = join(outDir, "xs-harness.js");
  writeFileSync(harness, XS_HARNESS);
  const entry = join(outDir, `xs-entry-${process.pid}-${fnName}.ts`);
  writeFileSync(entry, `import ${JSON.stringify(harness)};\nimport ${JSON.stringify(join(projectRoot(), entryFile))};\n`);
  const xs = await startXs({
    bundle: await bundleForXs(entry, { hostModules: Object.keys(options.hostModules ?? {}) }),
    stdio: "ignore",
    hostModules: options.hostModules,
  });
  try {
    const { warmup = 100, minMs = 300, maxOps = 10_000_000 } = options;
    const r = (await xs.call("__moteBench", { name: fnName, args, warmup, minMs, maxOps })) as { ops: number; ms: number };
    const meters = await xs.meters();
    return { ops: r.ops, ms: r.ms, opsPerSec: (r.ops / r.ms) * 1000, ...meters };
  } finally {
    await xs.close();
  }
}

/** Rounds for display: 3 significant digits. */
export function round(n: number): number {
  if (!Number.isFinite(n) || n === 0) return n;
  const d = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(n))));
  return Number(n.toFixed(d));
}
