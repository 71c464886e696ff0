/**
 * `npm run fuzz -- [--inputs N] [--target NAME[,NAME]] [--seed S] [--index I] [--jobs J] [--hang-ms MS] [--json] [--list]`
 *
 * Long fuzz runs. fuzz/run.mjs bundles this file with esbuild (host modules
 * bound to their Node twins, as bench/run.mjs does) and runs it. Each target
 * runs in a worker thread; the main thread is its watchdog: the worker
 * writes the index it is working on into shared memory, and if that index
 * does not move for `--hang-ms` (default 10 s) the worker is terminated, the
 * input is reported as a hang with its replay command, and the run goes on
 * from the next index.
 *
 *   --inputs N     inputs per target (default 100,000)
 *   --target T     one target or a comma list (default: all; see --list)
 *   --seed S       run seed (default: time-based, printed)
 *   --index I      replay one input: print it and its outcome (needs --seed)
 *   --jobs J       targets run in parallel (default 1)
 *   --json         one JSON line per target result
 *   --strict       do not set aside already-reported findings (fuzz/known.ts)
 */
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type Finding, type RunResult, replay, replayCommand, runTarget } from "./engine.js";
import { KNOWN } from "./known.js";
import { TARGETS, targetByName } from "./targets/index.js";

interface Job {
  target: string;
  seed: number;
  start: number;
  inputs: number;
  slowMs: number;
  strict: boolean;
}

type WorkerMessage = { type: "progress"; done: number; ms: number } | { type: "result"; result: RunResult };

if (!isMainThread) {
  const job = workerData.job as Job;
  const progress = new Int32Array(workerData.progress as SharedArrayBuffer);
  const target = targetByName(job.target)!;
  // Unbounded allocation shows as heap that stays after a gc: measured around the whole run.
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (() => void) | undefined;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const result = runTarget(target, {
    seed: job.seed,
    inputs: job.inputs,
    start: job.start,
    slowMs: job.slowMs,
    known: job.strict ? [] : KNOWN,
    progress,
    reportEvery: 50_000,
    onProgress: (done, ms) => parentPort!.postMessage({ type: "progress", done, ms } satisfies WorkerMessage),
  });
  gc?.();
  result.heapGrowthBytes = gc ? process.memoryUsage().heapUsed - heapBefore : undefined;
  parentPort!.postMessage({ type: "result", result } satisfies WorkerMessage);
}

function parse(argv: string[]) {
  const o: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (name === "json" || name === "list" || name === "strict") o[name] = true;
    else o[name] = eq > 0 ? a.slice(eq + 1) : argv[++i] ?? "";
  }
  return o;
}

function int(v: string | boolean | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(String(v).replace(/_/g, ""));
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

/** Runs one target's index range in workers, restarting after a hang. */
async function runGuarded(self: string, job: Job, hangMs: number, log: (s: string) => void): Promise<RunResult> {
  const total: RunResult = { target: job.target, seed: job.seed, inputs: 0, ms: 0, inputsPerSecond: 0, findings: [], outcomes: {} };
  let start = job.start;
  const end = job.start + job.inputs;
  while (start < end) {
    const shared = new SharedArrayBuffer(4);
    const progress = new Int32Array(shared);
    Atomics.store(progress, 0, start);
    const worker = new Worker(self, { workerData: { job: { ...job, start, inputs: end - start }, progress: shared } });
    const t0 = Date.now();
    const outcome = await new Promise<{ result?: RunResult; hangAt?: number; error?: string }>((resolve) => {
      let last = start;
      let lastMove = Date.now();
      const timer = setInterval(() => {
        const at = Atomics.load(progress, 0);
        if (at !== last) {
          last = at;
          lastMove = Date.now();
        } else if (Date.now() - lastMove > hangMs) {
          clearInterval(timer);
          void worker.terminate();
          resolve({ hangAt: at });
        }
      }, 250);
      worker.on("message", (m: WorkerMessage) => {
        if (m.type === "progress") log(`  ${job.target}: ${(start - job.start + m.done).toLocaleString("en-US")} inputs, ${Math.round((m.done / m.ms) * 1000).toLocaleString("en-US")}/s`);
        else {
          clearInterval(timer);
          resolve({ result: m.result });
        }
      });
      worker.on("error", (e) => {
        clearInterval(timer);
        resolve({ error: String(e?.stack ?? e), hangAt: Atomics.load(progress, 0) });
      });
    });
    if (outcome.result) {
      const r = outcome.result;
      total.inputs += r.inputs;
      total.ms += r.ms;
      total.findings.push(...r.findings);
      total.heapGrowthBytes = r.heapGrowthBytes;
      for (const [k, n] of Object.entries(r.outcomes)) total.outcomes[k] = (total.outcomes[k] ?? 0) + n;
      break;
    }
    const at = outcome.hangAt ?? start;
    const elapsed = Date.now() - t0;
    total.inputs += at - start + 1;
    total.ms += elapsed;
    total.findings.push({
      target: job.target,
      seed: job.seed,
      index: at,
      kind: outcome.error ? "crash" : "slow",
      message: outcome.error ? `worker died: ${outcome.error}` : `no progress for ${hangMs} ms (hang)`,
      input: "(replay with --index to print it)",
    });
    start = at + 1;
  }
  total.inputsPerSecond = total.ms > 0 ? (total.inputs / total.ms) * 1000 : 0;
  return total;
}

function printFinding(f: Finding): void {
  console.log(`  ${f.kind.toUpperCase()} ${f.target} seed=${f.seed} index=${f.index}: ${f.message.split("\n")[0]}`);
  console.log(`    input: ${f.input}`);
  console.log(`    replay: ${replayCommand(f)}`);
}

export async function main(argv: string[]): Promise<number> {
  const o = parse(argv);
  if (o.list) {
    for (const t of TARGETS) console.log(`${t.name.padEnd(16)} ${t.description}`);
    return 0;
  }
  const names = typeof o.target === "string" && o.target ? o.target.split(",") : TARGETS.map((t) => t.name);
  for (const n of names) if (!targetByName(n)) throw new Error(`unknown target "${n}" (try --list)`);
  const seed = int(o.seed, "seed", (Date.now() % 0x7fffffff) >>> 0);
  if (o.index !== undefined) {
    if (o.seed === undefined) throw new Error("--index needs --seed");
    for (const n of names) {
      const t = targetByName(n)!;
      console.log(`${n} seed=${seed} index=${o.index}`);
      const r = replay(t, seed, int(o.index, "index", 0));
      console.log(`input: ${r.input}`);
      try {
        console.log(`outcome: ${t.check(r.value)}`);
      } catch (e) {
        console.log(`FAILS: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
        return 1;
      }
    }
    return 0;
  }
  const inputs = int(o.inputs, "inputs", 100_000);
  const jobs = Math.max(1, int(o.jobs, "jobs", 1));
  const hangMs = int(o["hang-ms"], "hang-ms", 10_000);
  const slowMs = int(o["slow-ms"], "slow-ms", 1_000);
  const json = o.json === true;
  const self = fileURLToPath(import.meta.url);
  const log = (s: string) => {
    if (!json) console.error(s);
  };
  if (!json) console.log(`fuzz: seed ${seed}, ${inputs.toLocaleString("en-US")} inputs per target, targets: ${names.join(", ")}`);
  const results: RunResult[] = [];
  const queue = names.slice();
  await Promise.all(
    Array.from({ length: Math.min(jobs, queue.length) }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
        const r = await runGuarded(self, { target: n, seed, start: 0, inputs, slowMs, strict: o.strict === true }, hangMs, log);
        results.push(r);
        const crashes = r.findings.filter((f) => f.kind !== "slow").length;
        const known = Object.entries(r.outcomes).filter(([k]) => k.startsWith("known:")).reduce((a, [, v]) => a + v, 0);
        if (json) console.log(JSON.stringify({ target: r.target, seed, inputs: r.inputs, inputs_per_s: Math.round(r.inputsPerSecond), crashes, known_hits: known, slow: r.findings.length - crashes, heap_growth_kb: r.heapGrowthBytes === undefined ? null : Math.round(r.heapGrowthBytes / 1024), ms: Math.round(r.ms), command: `npm run fuzz -- --inputs ${inputs} --target ${n} --seed ${seed}`, outcomes: r.outcomes }));
        else {
          console.log(`${r.target.padEnd(16)} ${r.inputs.toLocaleString("en-US").padStart(11)} inputs  ${Math.round(r.inputsPerSecond).toLocaleString("en-US").padStart(9)}/s  crashes ${crashes}  slow ${r.findings.length - crashes}${r.heapGrowthBytes !== undefined ? `  heap after gc ${r.heapGrowthBytes >= 0 ? "+" : ""}${Math.round(r.heapGrowthBytes / 1024)} KB` : ""}${known ? `  known-finding hits ${known}` : ""}`);
          for (const f of r.findings) printFinding(f);
        }
      }
    }),
  );
  const bad = results.reduce((n, r) => n + r.findings.length, 0);
  if (!json) console.log(bad ? `fuzz: ${bad} finding(s), seed ${seed}` : `fuzz: no findings, seed ${seed}`);
  return bad ? 1 : 0;
}
