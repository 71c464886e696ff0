/**
 * `mote app build|lin` — your own app (a project from `mote init`) for
 * Moddable's tools. See docs/cookbook.md and the project's README.
 *
 *   mote app build [ENTRY] [--out DIR]     ENTRY (default src/main.ts) -> DIR/main.js (default dist/device):
 *                                          your code bundled as Moddable's "main"; "mote", "mote/…" and
 *                                          host modules stay imports, served by mote's manifest_lib.json
 *   mote app lin [--manifest FILE] [--out DIR] [--run] [KEY=VALUE...]
 *                                          mcconfig -m -i -t build -p lin (KEY=VALUE: mcconfig config,
 *                                          e.g. broker=mqtt://127.0.0.1:1883); --run then runs it headless
 *                                          on Moddable's runtime in DIR/device until Ctrl-C
 *
 * For the ESP32 boards run mcconfig yourself (`npm run build:esp32` in the
 * project): MOTE must name mote's folder, which manifest_lib.json includes from.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { build, type Plugin } from "esbuild";
import { UsageError, parseArgs, wantsHelp } from "./args.js";

const USAGE = `usage:
  mote app build [ENTRY] [--out DIR]        bundle ENTRY (default src/main.ts) as Moddable's main into DIR (default dist/device)
  mote app lin [--manifest FILE] [--out DIR] [--run] [KEY=VALUE...]
                                            build for Moddable's lin runtime (mcconfig -p lin); --run runs it headless`;

/** Specifiers that stay imports in the app's main.js: mote's library modules and every host module. */
function moddableExternals(root: string): Plugin {
  const hosts = new Set(Object.keys(JSON.parse(readFileSync(join(root, "host-shim", "modules.json"), "utf8")) as Record<string, string>));
  return {
    name: "mote-app-externals",
    setup(b) {
      b.onResolve({ filter: /^(mote(\/.*)?|embedded:.*)$/ }, (args) => ({ path: args.path, external: true }));
      b.onResolve({ filter: /^[a-z]/ }, (args) => (hosts.has(args.path) ? { path: args.path, external: true } : undefined));
    },
  };
}

/** mote's own folder (where manifest_lib.json is): two levels above this file, bundled or not. */
function moteRoot(): string {
  let dir = dirname(new URL(import.meta.url).pathname);
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, "manifest_lib.json"))) return dir;
    dir = dirname(dir);
  }
  throw Object.assign(new Error("mote's manifest_lib.json not found above the CLI"), { code: "not-found" });
}

/** Bundles the app at `entry` for mcconfig as `outDir/main.js`; returns that path. */
export async function buildApp(entry: string, outDir: string): Promise<string> {
  const file = resolve(entry);
  if (!existsSync(file)) throw Object.assign(new Error(`${entry} does not exist`), { code: "not-found" });
  mkdirSync(outDir, { recursive: true });
  const outfile = join(resolve(outDir), "main.js");
  await build({
    entryPoints: [file],
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "neutral",
    outfile,
    legalComments: "none",
    logLevel: "silent",
    plugins: [moddableExternals(moteRoot())],
  });
  return outfile;
}

export async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv) || argv.length === 0) {
    (argv.length === 0 ? process.stderr : process.stdout).write(USAGE + "\n");
    return argv.length === 0 ? 2 : 0;
  }
  const [sub, ...rest] = argv;
  if (sub === "build") {
    const { options, positional } = parseArgs(rest, { out: { value: true } });
    if (positional.length > 1) throw new UsageError("mote app build takes one ENTRY");
    const out = await buildApp(positional[0] ?? "src/main.ts", String(options.out ?? join("dist", "device")));
    process.stdout.write(`${out}\n`);
    return 0;
  }
  if (sub === "lin") {
    const { options, positional } = parseArgs(rest, { manifest: { value: true }, out: { value: true }, run: {} });
    const config = positional.filter((p) => /^[A-Za-z_][\w]*=/.test(p));
    if (config.length !== positional.length) throw new UsageError("mote app lin: arguments are KEY=VALUE config values");
    const { findModdable } = await import("../host-shim/moddable/sdk.js");
    const { buildManifest } = await import("../host-shim/moddable/build.js");
    const sdk = findModdable();
    if (typeof sdk === "string") throw Object.assign(new Error(sdk), { code: "unavailable" });
    const manifest = resolve(String(options.manifest ?? "manifest.json"));
    const out = resolve(String(options.out ?? join("build", "moddable")));
    const so = await buildManifest(manifest, out, sdk, { config, log: (l) => process.stderr.write(`${l}\n`) });
    process.stdout.write(`${so}\n`);
    if (options.run !== true) return 0;
    const { ModdableDevice } = await import("../host-shim/moddable/run.js");
    const device = new ModdableDevice(so, sdk, join(out, "device"), { onLine: (l) => process.stdout.write(`${l}\n`) });
    device.start();
    await new Promise<void>((done) => process.once("SIGINT", () => done()));
    await device.stop();
    return 0;
  }
  throw new UsageError(`unknown subcommand "mote app ${sub}" (try mote app help)`);
}
