/**
 * The XS engine on the desktop: bundle code for XS, start a real XS engine
 * (the xsnap-worker binary from @agoric/xsnap), and serve the host objects it
 * creates with the Node twins in this process. See docs/simulator-bridge.md.
 *
 *   const xs = await startXs({ bundle: await bundleForXs("test/xs/tcp-entry.ts") });
 *   expect(await xs.call("echoTask", { port })).toEqual(...);
 *   await xs.close();
 */
import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { HostBridge } from "./host.js";
import { loadTwin } from "./twins.js";
import { startXsnap, type XsnapMeters, type XsnapWorker } from "./xsnap.js";

export interface XsMeters {
  /** XS heap slots in use after a gc, times the slot size (32 bytes on 64-bit hosts). Strings and buffers (chunks) are not included. */
  heapBytes: number;
  /** Bytes the XS machine has allocated from the host so far (slots + chunks). */
  allocate: number;
  /** Compute meter of the last command (XS's instruction-ish count). */
  compute: number;
}

export interface XsEngine {
  /** Call globalThis[name](args) inside XS; resolves with its (awaited) result once it settles. Args/results: JSON values, Uint8Array, undefined. */
  call(name: string, args?: unknown): Promise<unknown>;
  meters(): Promise<XsMeters>;
  close(): Promise<void>;
  readonly logs: string[];
  /** Bridge counters, for tests and benches. */
  stats(): XsBridgeStats;
}

export interface XsBridgeStats {
  /** Requests XS made to Node (round trips). */
  requests: number;
  /** Node objects XS holds a handle to. */
  handles: number;
  /** Host objects XS opened that close() would close. */
  open: number;
  /** Events waiting for XS. */
  queuedEvents: number;
  /** Events dropped because the queue was full. */
  droppedEvents: number;
}

export interface StartXsOptions {
  bundle: string;
  name?: string;
  /** Folder for simulated persistent state (preferences, flash); exported to the Node twins as MOTE_STATE_DIR. */
  stateDir?: string;
  /** Extra host modules served from this process: specifier -> module namespace (bundle them with bundleForXs(file, { hostModules })). */
  hostModules?: Record<string, Record<string, unknown>>;
  /** Called for each line XS logs (trace / platform log); lines are also kept in `logs`. */
  onLog?: (line: string) => void;
  /** Max lines kept in `logs` (oldest dropped). Default 10,000. */
  maxLogLines?: number;
  /** Max host objects XS may hold at once. Default 10,000. */
  maxHandles?: number;
  /** Max events waiting for XS. Default 100,000. */
  maxQueuedEvents?: number;
  /** XS compute meter limit per command (one call, one event batch): a runaway loop ends the engine instead of hanging. Default: none. */
  computeLimit?: number;
  /** The xsnap-worker binary (host-shim/xs/xsnap-lite.ts builds a small-heap one for fleets). Default: @agoric/xsnap's. */
  xsnapBinary?: string;
  /** Where XS's print() goes: "inherit" (our stdout/stderr), "ignore", or "stderr". Default "inherit". */
  stdio?: "inherit" | "ignore" | "stderr";
}

/**
 * Math.random for one XS engine, seeded from the operating system's entropy.
 *
 * XS's Math.random is the C library's rand() (xsMath.c, c_rand), and the
 * xsnap worker never seeds it (it is built for deterministic replay), so every
 * engine would draw the same sequence: the same MQTT client ids (two clients
 * then take over each other's session), CoAP message ids and tokens. On the
 * ESP32 c_rand is the hardware RNG (esp_random); on Moddable's desktop
 * runtime boards/desktop/process.c seeds it. Here the engine gets a generator
 * of its own before any other code runs: xoshiro128** (Blackman and Vigna,
 * "Scrambled linear pseudorandom number generators", 2021), 128 bits of state
 * from node:crypto, two outputs per double (53 bits). Not for secrets, as
 * Math.random never is.
 */
export function randomPrelude(seed: Uint8Array = randomBytes(16)): string {
  if (seed.length !== 16) throw new RangeError("the seed is 16 bytes");
  const words: number[] = [0, 4, 8, 12].map((o) => ((seed[o] << 24) | (seed[o + 1] << 16) | (seed[o + 2] << 8) | seed[o + 3]) >>> 0);
  if (!words.some((w) => w !== 0)) words[0] = 1; // the one state xoshiro cannot leave
  return `(function () {
  let a = ${words[0]} | 0, b = ${words[1]} | 0, c = ${words[2]} | 0, d = ${words[3]} | 0;
  const next = () => {
    const x = Math.imul(b, 5);
    const out = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t;
    d = (d << 11) | (d >>> 21);
    return out;
  };
  Object.defineProperty(Math, "random", {
    value: function random() { return ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992; },
    writable: true, configurable: true, enumerable: false,
  });
})();`;
}

/** Size of an XS slot on a 64-bit host (txSlot), to turn slot counts into bytes. */
const SLOT_BYTES = 32;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The project root (where package.json lives). */
export function projectRoot(): string {
  return ROOT;
}

interface CacheEntry {
  code: string;
  inputs: [string, number][];
}
const bundleCache = new Map<string, CacheEntry>();

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

export interface BundleOptions {
  /** Extra host module specifiers (served by startXs's hostModules) to bind to generated stubs. */
  hostModules?: string[];
  /** Minify (smaller, for size figures). Default false. */
  minify?: boolean;
}

/**
 * Bundle a TS/JS entry file for XS: host module specifiers bound to the XS
 * bridge stubs (host-shim/xs/modules/). Cached per file, invalidated when any
 * input file's mtime changes.
 */
export async function bundleForXs(entryFile: string, options: BundleOptions = {}): Promise<string> {
  const entry = resolve(ROOT, entryFile);
  const key = `${entry}|${(options.hostModules ?? []).join(",")}|${options.minify === true}`;
  const cached = bundleCache.get(key);
  if (cached !== undefined && cached.inputs.every(([p, t]) => mtime(p) === t)) return cached.code;
  const esbuild = await import("esbuild");
  const { xsStubsPlugin } = await import("./plugins.js");
  const result = await esbuild.build({
    stdin: {
      contents: `import ${JSON.stringify(join(ROOT, "host-shim", "xs", "bridge.ts"))};\nimport ${JSON.stringify(entry)};\n`,
      resolveDir: ROOT,
      loader: "ts",
      sourcefile: "xs-entry.ts",
    },
    bundle: true,
    format: "iife",
    target: "es2022",
    platform: "neutral",
    mainFields: ["module", "main"],
    write: false,
    metafile: true,
    minify: options.minify === true,
    logLevel: "silent",
    plugins: [xsStubsPlugin(ROOT, options.hostModules)],
  });
  const code = result.outputFiles[0].text;
  const inputs: [string, number][] = Object.keys(result.metafile.inputs)
    .filter((p) => !p.includes(":"))
    .map((p) => {
      const abs = resolve(ROOT, p);
      return [abs, mtime(abs)];
    });
  bundleCache.set(key, { code, inputs });
  return code;
}

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Start a real XS engine and evaluate the bundle; host objects created inside
 * are served by host-shim/node/ twins (or `hostModules`) in this process.
 */
export async function startXs(options: StartXsOptions): Promise<XsEngine> {
  if (options.stateDir !== undefined) {
    const dir = resolve(options.stateDir);
    process.env.MOTE_STATE_DIR = dir;
    try {
      const hw = (await import("../node/hardware.js")) as { configureHardware?: (o: { stateDir: string }) => void };
      hw.configureHardware?.({ stateDir: dir });
    } catch {
      // no simulated hardware twin: MOTE_STATE_DIR is all the twins get
    }
  }
  const logs: string[] = [];
  const maxLogLines = options.maxLogLines ?? 10_000;
  const pending = new Map<number, PendingCall>();
  let nextCall = 1;
  let lastMeters: XsnapMeters = { currentHeapCount: 0, compute: 0, allocate: 0 };
  let closed = false;

  const onLog = (line: string) => {
    logs.push(line);
    if (logs.length > maxLogLines) logs.splice(0, logs.length - maxLogLines);
    options.onLog?.(line);
  };

  // eslint-disable-next-line prefer-const
  let worker: XsnapWorker;
  const bridge = new HostBridge({
    loadModule: async (spec) => options.hostModules?.[spec] ?? loadTwin(spec),
    send: async (message) => {
      const r = await worker.issueCommand(message);
      lastMeters = r.meters;
      return r.reply;
    },
    onLog,
    onSettle: (id, ok, value) => {
      const p = pending.get(id);
      if (p === undefined) return;
      pending.delete(id);
      if (ok) p.resolve(value);
      else p.reject(value);
    },
    maxHandles: options.maxHandles,
    maxQueuedEvents: options.maxQueuedEvents,
  });
  worker = startXsnap({
    name: options.name ?? "mote-xs",
    handleCommand: (bytes) => bridge.handle(bytes),
    stdio: options.stdio ?? "inherit",
    computeLimit: options.computeLimit,
    binary: options.xsnapBinary,
  });

  const send = async (body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    if (closed) throw Object.assign(new Error("closed: the XS engine is closed"), { code: "closed", name: "MoteError" });
    const r = await worker.issueCommand(bridge.encode(body));
    lastMeters = r.meters;
    return bridge.acceptReply(r.reply);
  };

  try {
    await worker.evaluate(randomPrelude());
    const r = await worker.evaluate(options.bundle);
    lastMeters = r.meters;
  } catch (e) {
    bridge.closeAll();
    await worker.close();
    throw e;
  }

  const engine: XsEngine = {
    logs,
    async call(name: string, args?: unknown): Promise<unknown> {
      const id = nextCall++;
      const settled = new Promise<unknown>((resolve, reject) => pending.set(id, { resolve, reject }));
      settled.catch(() => {}); // may settle before we return it; the caller gets the rejection
      let reply: Record<string, unknown>;
      try {
        reply = await send({ op: "call", id, name, a: args });
      } catch (e) {
        pending.delete(id);
        throw e;
      }
      if ("err" in reply) {
        pending.delete(id);
        throw reply.err;
      }
      if (reply.pending === true) return settled;
      pending.delete(id);
      return reply.ok;
    },
    async meters(): Promise<XsMeters> {
      // Collect until two rounds in a row leave the same count (at most 8 rounds).
      // A round ends with XS's FinalizationRegistry cleanups (fxEndJob, after the
      // gc), in which the bridge releases proxies and callbacks: they allocate, so
      // a round's count can be higher than the one before, and only the next
      // round frees what they let go. Stopping at the first round that did not
      // shrink reported up to twice the live heap after many host objects ended.
      let last = -1;
      for (let round = 0; round < 8; round++) {
        await send({ op: "gc" });
        if (lastMeters.currentHeapCount === last) break;
        last = lastMeters.currentHeapCount;
      }
      return { heapBytes: lastMeters.currentHeapCount * SLOT_BYTES, allocate: lastMeters.allocate, compute: lastMeters.compute };
    },
    stats(): XsBridgeStats {
      return {
        requests: bridge.requests,
        handles: bridge.handleCount,
        open: bridge.openCount,
        queuedEvents: bridge.queuedEvents,
        droppedEvents: bridge.droppedEvents,
      };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const failures = bridge.closeAll();
      for (const f of failures) onLog(`close: ${f}`);
      const err = Object.assign(new Error("closed: the XS engine was closed"), { code: "closed", name: "MoteError" });
      for (const p of pending.values()) p.reject(err);
      pending.clear();
      await worker.close();
    },
  };
  return engine;
}
