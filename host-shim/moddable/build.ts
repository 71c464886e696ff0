/**
 * Builds mote for Moddable's desktop runtime with the real `mcconfig`:
 *   device  manifest.json        -> the device program (dist/device/main.js on the preloaded dist/lib/)
 *   tools   manifest_tools.json  -> the CLI tasks (dist/moddable-tools/)
 * into .moddable/<app>/ as `mc.so`, an instrumented release build (`-i`:
 * Moddable's `instrumentation` module then reports the XS heap and stack).
 * `npm run build` must have written dist/ first. Builds are incremental
 * (make); one build per app at a time (a lock folder), so parallel test
 * files can share them.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { projectRoot } from "../xs/engine.js";
import { moddableEnv, type ModdableSdk } from "./sdk.js";

export type ModdableApp = "device" | "tools";

const MANIFESTS: Record<ModdableApp, { manifest: string; dist: string }> = {
  device: { manifest: "manifest.json", dist: "dist/lib/mote/app.js" },
  tools: { manifest: "manifest_tools.json", dist: "dist/moddable-tools/mote-tools.js" },
};

export function buildDir(app: ModdableApp, root = projectRoot()): string {
  return join(root, ".moddable", app);
}

/**
 * Where mcconfig puts the shared library of an instrumented lin build into `out`:
 * under the name of the folder that holds the manifest (mcconfig's NAME).
 */
export function sharedLibraryIn(out: string, manifest: string): string {
  return join(out, "bin", "lin", "mc", "instrument", basename(dirname(manifest)), "mc.so");
}

export function sharedLibrary(app: ModdableApp, root = projectRoot()): string {
  return sharedLibraryIn(buildDir(app, root), join(root, MANIFESTS[app].manifest));
}

async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // a lock older than the longest build is left over from a killed run
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 10 * 60_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`${lock}: still locked after 10 minutes`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Runs mcconfig for `app`; resolves with the path of mc.so. Rejects with mcconfig's last lines. */
export async function buildModdable(app: ModdableApp, sdk: ModdableSdk, options: { root?: string; log?: (line: string) => void } = {}): Promise<string> {
  const root = options.root ?? projectRoot();
  const { manifest, dist } = MANIFESTS[app];
  if (!existsSync(join(root, dist))) throw Object.assign(new Error(`${dist} is missing: run npm run build`), { code: "not-built" });
  return buildManifest(join(root, manifest), buildDir(app, root), sdk, { ...options, root });
}

/**
 * `mcconfig -m -i -t build -p lin -o out manifest` (any manifest: the benchmarks build
 * Moddable's own examples with it); resolves with the path of mc.so.
 */
export async function buildManifest(
  manifest: string,
  out: string,
  sdk: ModdableSdk,
  options: { root?: string; log?: (line: string) => void; /** mcconfig's key=value config arguments */ config?: readonly string[] } = {},
): Promise<string> {
  const root = options.root ?? projectRoot();
  mkdirSync(out, { recursive: true });
  return withLock(out, async () => {
    const args = ["-m", "-i", "-t", "build", "-p", "lin", "-o", out, manifest, ...(options.config ?? [])];
    const tail: string[] = [];
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(join(sdk.bin, "mcconfig"), args, { cwd: root, env: moddableEnv(sdk, root), stdio: ["ignore", "pipe", "pipe"] });
      const keep = (chunk: Buffer) => {
        for (const line of chunk.toString("utf8").split("\n")) {
          if (line === "" || line.includes(": no const") || line.includes(": not frozen")) continue; // xsl's preload notes
          tail.push(line);
          if (tail.length > 40) tail.shift();
          options.log?.(line);
        }
      };
      child.stdout.on("data", keep);
      child.stderr.on("data", keep);
      child.on("error", reject);
      child.on("close", (c) => resolve(c ?? 1));
    });
    const so = sharedLibraryIn(out, manifest);
    if (code !== 0 || !existsSync(so)) throw new Error(`mcconfig ${manifest} failed (status ${code}):\n${tail.join("\n")}`);
    return so;
  });
}
