/**
 * A small-heap build of the xsnap-worker, for simulated fleets.
 *
 * Why: the worker @agoric/xsnap builds creates every XS machine with a 32 MB
 * initial chunk space and 256 K slots (8 MB on a 64-bit host)
 * (xsnap-worker.c, `xsCreation _creation`), sized for Agoric's vats. XS
 * allocates chunks by bumping a pointer through that space and only collects
 * when it is full, so a device's garbage walks all 32 MB within minutes and
 * every page stays resident: measured 55 MB private per worker, of which the
 * device program's live heap is ~0.65 MB of slots. A board has 520 KB in all.
 * With small sizes, 13 MB of the remaining 17 MB was the C heap the parser
 * left behind: XS parses the ~360 KB device bundle into many small malloc'ed
 * nodes and frees them all, but glibc keeps freed pages between live blocks.
 *
 * What: the same sources, compiled by the package's own makefile
 * (xsnap-native/xsnap/makefiles/lin/xsnap-worker.mk, release goal), with only
 * those four creation sizes changed (1 MB of chunks growing by 1 MB, 32 K slots
 * growing by 16 K), and glibc's malloc_trim(0) called after each evaluated
 * script (the `e` command: once per boot), which gives the freed pages back.
 * Measured: 7 MB resident, 4 MB private per worker. The machine still grows on demand (chunks within the
 * worker's reserved range, slots by malloc), so a program that needs more gets
 * it; it collects sooner instead. Everything else (metering, the protocol,
 * lockdown) is the stock worker's.
 *
 * The binary is cached under node_modules/.cache/mote-xsnap-lite/<key>/, the
 * key a hash of the worker's source, the makefile and the sizes: built once
 * (about a minute on two idle cores), found afterwards.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { MoteError } from "../../src/errors.js";
import { projectRoot } from "./engine.js";

/** The creation sizes of the fleet worker (XS `xsCreation` fields). */
export const LITE_CREATION = Object.freeze({
  initialChunkSize: 1024 * 1024,
  incrementalChunkSize: 1024 * 1024,
  initialHeapCount: 32 * 1024,
  incrementalHeapCount: 16 * 1024,
});

function agoricXsnapDir(): string {
  return dirname(createRequire(import.meta.url).resolve("@agoric/xsnap/package.json"));
}

/** The stock worker's source with the four sizes replaced; throws `xsnap-lite-patch` if its table is not as expected. */
export function patchWorkerSource(source: string): string {
  const fields: [keyof typeof LITE_CREATION, RegExp][] = [
    ["initialChunkSize", /^(\s*)[^,\n]+,(\s*\/\* initialChunkSize \*\/)$/m],
    ["incrementalChunkSize", /^(\s*)[^,\n]+,(\s*\/\* incrementalChunkSize \*\/)$/m],
    ["initialHeapCount", /^(\s*)[^,\n]+,(\s*\/\* initialHeapCount \*\/)$/m],
    ["incrementalHeapCount", /^(\s*)[^,\n]+,(\s*\/\* incrementalHeapCount \*\/)$/m],
  ];
  let out = source;
  for (const [name, re] of fields) {
    if (!re.test(out)) throw new MoteError("xsnap-lite-patch", `xsnap-worker.c has no ${name} line in its xsCreation table`);
    out = out.replace(re, `$1${LITE_CREATION[name]},$2`);
  }
  // After an evaluated script (the parser's nodes are free by then), hand the
  // C heap's free pages back to the system (glibc malloc_trim, malloc.h).
  const include = '#include "xsnap.h"\n';
  const evaluate = out.indexOf("case 'e':");
  const endHost = evaluate < 0 ? -1 : out.indexOf("xsEndHost(machine);", evaluate);
  if (!out.includes(include) || endHost < 0) throw new MoteError("xsnap-lite-patch", "xsnap-worker.c has no evaluate command ending in xsEndHost");
  const at = endHost + "xsEndHost(machine);".length;
  out = out.slice(0, at) + "\n\t\t\t\tif (command == 'e') malloc_trim(0);" + out.slice(at);
  return out.replace(include, `${include}#include <malloc.h>\n`);
}

function paths(): { src: string; makefile: string; moddable: string; dir: string } {
  const pkg = agoricXsnapDir();
  const src = join(pkg, "xsnap-native", "xsnap", "sources");
  const makefile = join(pkg, "xsnap-native", "xsnap", "makefiles", "lin", "xsnap-worker.mk");
  const hash = createHash("sha256");
  hash.update(readFileSync(join(src, "xsnap-worker.c")));
  hash.update(readFileSync(makefile));
  hash.update(JSON.stringify(LITE_CREATION));
  hash.update("malloc_trim after evaluate");
  const dir = join(projectRoot(), "node_modules", ".cache", "mote-xsnap-lite", hash.digest("hex").slice(0, 16));
  return { src, makefile, moddable: join(pkg, "moddable"), dir };
}

function binaryIn(dir: string): string {
  return join(dir, "build", "bin", "lin", "release", "xsnap-worker");
}

/** The fleet worker when it is built; undefined otherwise (or off Linux). */
export function liteXsnapBinary(): string | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    const bin = binaryIn(paths().dir);
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/** Runs make to completion (killed after `timeoutMs`); output is stdout + stderr, the last 64 KB. */
function make(args: string[], timeoutMs: number): Promise<{ status: number | null; output: string; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn("make", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const take = (d: Buffer) => (output = (output + d.toString("utf8")).slice(-65_536));
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ status: null, output, error: e.message });
    });
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, output, ...(signal === null ? {} : { error: `killed by ${signal}` }) });
    });
  });
}

/**
 * Builds the fleet worker if it is not built yet and returns its path. Needs
 * make and a C compiler; throws `xsnap-lite-build` with the compiler's last
 * line when the build fails (the stock worker still works then).
 */
export async function ensureLiteXsnap(log?: (line: string) => void): Promise<string> {
  if (process.platform !== "linux") throw new MoteError("xsnap-lite-build", "the fleet worker is built on Linux only");
  const p = paths();
  const bin = binaryIn(p.dir);
  if (existsSync(bin)) return bin;
  log?.("building the fleet XS worker (small heap; once, about a minute)…");
  // Build in a fresh folder, then move it in place: two processes building at
  // once each finish their own, and a half-built folder is never found.
  const work = `${p.dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, "src"), { recursive: true });
  for (const f of readdirSync(p.src)) cpSync(join(p.src, f), join(work, "src", f));
  const worker = join(work, "src", "xsnap-worker.c");
  writeFileSync(worker, patchWorkerSource(readFileSync(worker, "utf8")));
  // Asynchronous: the build takes a minute or more, and the caller's event loop
  // (the simulator's status, a test runner's RPC) must keep running meanwhile.
  const r = await make(
    ["-f", p.makefile, "-C", dirname(p.makefile), "GOAL=release", `MODDABLE=${p.moddable}`, `BUILD_DIR=${join(work, "build")}`, `TLS_DIR=${join(work, "src")}`, "XSNAP_VERSION=mote-lite", "-j2"],
    900_000,
  );
  if (r.status !== 0 || !existsSync(binaryIn(work))) {
    rmSync(work, { recursive: true, force: true });
    const last = r.output.trim().split("\n").pop() ?? "";
    throw new MoteError("xsnap-lite-build", `make failed (${r.error ?? `exit ${r.status}`}): ${last}`);
  }
  // the objects are not needed once linked
  rmSync(join(work, "build", "tmp"), { recursive: true, force: true });
  mkdirSync(dirname(p.dir), { recursive: true });
  try {
    renameSync(work, p.dir);
  } catch {
    rmSync(work, { recursive: true, force: true }); // another process got there first
  }
  if (!existsSync(bin)) throw new MoteError("xsnap-lite-build", `no worker at ${bin} after the build`);
  return bin;
}
