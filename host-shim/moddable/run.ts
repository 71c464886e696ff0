/**
 * Runs an mc.so of Moddable's desktop runtime (host-shim/moddable/build.ts)
 * in `mchost`, headless, in a folder of its own: that folder is the
 * device's file system root (preferences, flash partitions, boot state —
 * boards/desktop/manifest.json). Output is line by line what the program
 * traces.
 *
 * `ModdableDevice` is one board: exit status 75 (restart(), boards/desktop/
 * ota-boot.js) boots it again in the same folder, `powerCut()` kills it
 * with SIGKILL and boots it again, `stop()` ends it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ModdableSdk } from "./sdk.js";

/** Exit status of restart() on the desktop targets (boards/desktop/process.js). */
export const REBOOT_STATUS = 75;
const MAX_LINES = 5000;

type Matcher = RegExp | ((line: string) => boolean);
const matches = (m: Matcher, line: string) => (typeof m === "function" ? m(line) : m.test(line));

/** Output lines with waiters: the part a test and the CLI share. */
class Lines {
  readonly all: string[] = [];
  #waiters = new Set<{ m: Matcher; resolve: (l: string) => void }>();
  #from = 0; // lines before this index were dropped (bounded buffer)

  push(line: string): void {
    this.all.push(line);
    if (this.all.length > MAX_LINES) {
      this.all.shift();
      this.#from++;
    }
    for (const w of this.#waiters)
      if (matches(w.m, line)) {
        this.#waiters.delete(w);
        w.resolve(line);
      }
  }

  /** Index of the next line to arrive (for `waitFor(..., { after })`). */
  get mark(): number {
    return this.#from + this.all.length;
  }

  waitFor(m: Matcher, timeoutMs: number, after = 0): Promise<string> {
    for (let i = Math.max(0, after - this.#from); i < this.all.length; i++) if (matches(m, this.all[i])) return Promise.resolve(this.all[i]);
    return new Promise((resolve, reject) => {
      const w = { m, resolve: (l: string) => (clearTimeout(timer), resolve(l)) };
      const timer = setTimeout(() => {
        this.#waiters.delete(w);
        reject(new Error(`no line matching ${String(m)} within ${timeoutMs} ms; last lines:\n${this.all.slice(-25).join("\n")}`));
      }, timeoutMs);
      this.#waiters.add(w);
    });
  }
}

export interface ModdableRun {
  readonly lines: readonly string[];
  readonly exited: Promise<number>;
  waitFor(m: Matcher, timeoutMs: number): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<number>;
}

function spawnHost(so: string, sdk: ModdableSdk, cwd: string, onLine: (line: string) => void): { child: ChildProcess; exited: Promise<number> } {
  // mchost quits after the given seconds; the caller ends it sooner.
  const child = spawn(sdk.mchost, [so, "86400"], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let rest = "";
  const feed = (chunk: Buffer) => {
    const text = rest + chunk.toString("utf8");
    const parts = text.split("\n");
    rest = parts.pop() ?? "";
    for (const p of parts) onLine(p);
  };
  child.stdout!.on("data", feed);
  child.stderr!.on("data", feed);
  const exited = new Promise<number>((resolve) => {
    child.on("error", () => resolve(127));
    child.on("close", (code, signal) => {
      if (rest !== "") onLine(rest);
      resolve(code ?? (signal === "SIGKILL" ? 137 : 143));
    });
  });
  return { child, exited };
}

/** One run of `so` in `cwd` until it exits. */
export function runModdable(so: string, sdk: ModdableSdk, options: { cwd: string; onLine?: (line: string) => void }): ModdableRun {
  mkdirSync(options.cwd, { recursive: true });
  const lines = new Lines();
  const { child, exited } = spawnHost(so, sdk, options.cwd, (l) => {
    lines.push(l);
    options.onLine?.(l);
  });
  return {
    lines: lines.all,
    exited,
    waitFor: (m, t) => lines.waitFor(m, t),
    kill(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Preferences as Moddable's desktop `preference` module keeps them (boards/desktop/preference.js). */
export function writePreferences(dir: string, prefs: Record<string, Record<string, string | number | boolean>>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "modpreferences.json"), JSON.stringify(prefs));
}

export class ModdableDevice {
  readonly #so: string;
  readonly #sdk: ModdableSdk;
  readonly dir: string;
  readonly #lines = new Lines();
  #child: ChildProcess | undefined;
  #exited: Promise<number> = Promise.resolve(0);
  #stopped = false;
  #ended = false;
  #boots = 0;
  #maxBoots: number;
  /** Exit statuses of the runs so far (75 = reboot). */
  readonly exits: number[] = [];

  constructor(so: string, sdk: ModdableSdk, dir: string, options: { maxBoots?: number; onLine?: (line: string) => void } = {}) {
    this.#so = so;
    this.#sdk = sdk;
    this.dir = dir;
    this.#maxBoots = options.maxBoots ?? 20;
    this.#onLine = options.onLine;
  }
  readonly #onLine: ((line: string) => void) | undefined;

  get lines(): readonly string[] {
    return this.#lines.all;
  }
  get mark(): number {
    return this.#lines.mark;
  }
  /** Boots so far (1 after start()). */
  get boots(): number {
    return this.#boots;
  }

  start(): void {
    mkdirSync(this.dir, { recursive: true });
    this.#boot();
  }

  /** A line of the program, or of this host ("[host] boot 2", "[host] exit 75"). */
  #line(l: string): void {
    this.#lines.push(l);
    this.#onLine?.(l);
  }

  #boot(): void {
    this.#boots++;
    this.#line(`[host] boot ${this.#boots}`);
    const { child, exited } = spawnHost(this.#so, this.#sdk, this.dir, (l) => this.#line(l));
    this.#child = child;
    this.#exited = exited.then((code) => {
      this.exits.push(code);
      this.#line(`[host] exit ${code}`);
      const again = !this.#stopped && code === REBOOT_STATUS && this.#boots < this.#maxBoots;
      if (again) this.#boot();
      return code;
    });
  }

  waitFor(m: Matcher, timeoutMs: number, after = 0): Promise<string> {
    return this.#lines.waitFor(m, timeoutMs, after);
  }

  /** Power off and on: SIGKILL (no file is flushed by the program), off for `offMs`, then boot again. */
  async powerCut(offMs = 0): Promise<void> {
    const child = this.#child;
    this.#stopped = true;
    child?.kill("SIGKILL");
    await this.#exited;
    if (offMs > 0) await new Promise((r) => setTimeout(r, offMs));
    if (this.#ended) return; // stop() came while the power was off
    this.#stopped = false;
    this.#boot();
  }

  async stop(): Promise<void> {
    this.#stopped = this.#ended = true;
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await this.#exited;
  }
}
