#!/usr/bin/env node
// Builds mote's bundles with esbuild (`npm run build` type-checks first):
//   dist/lib/             mote as a library for Moddable: one ES module per entry ("mote",
//                         "mote/mqtt", "mote/coap", ... — LIBRARY_ENTRIES), shared code in
//                         "mote/chunk-*" modules; manifest_lib.json maps and preloads them
//   dist/device/main.js   the default device program: an app on that library (manifest.json)
//   dist/node/sim.mjs     the simulator as a library for apps (package export "mote/sim")
//   dist/types/           declarations for the package's exports (--only=types; npm pack runs it)
//   dist/sim/device.js    the same source as one script for XS, host modules bound to the bridge
//   dist/sim/tools.js     the CLI tasks (cli/tasks/*.ts) as XS globals, for --engine xs
//   dist/node/cli.mjs     the CLI for Node, host modules bound to host-shim/node twins
//   dist/moddable-tools/  the CLI tasks as a preloadable module for Moddable's desktop runtime (manifest_tools.json)
//   dist/sizes.json       minified + gzip sizes of the device bundle
// A missing entry (src/app/main.ts, cli/main.ts, ...) is skipped with a message.
// Flags: --prepare (npm's prepare hook: report errors but exit 0 so `npm install` works),
//        --only=device,sim,tools,cli,sim-api,moddable-tools,types (types only when named)
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const prepare = argv.includes("--prepare");
const onlyArg = argv.find((a) => a.startsWith("--only="));
const only = onlyArg ? new Set(onlyArg.slice(7).split(",")) : undefined;
const want = (part) => only === undefined || only.has(part);

/** The shared esbuild plugins live in TypeScript; bundle them once to load them here. */
export async function loadPlugins() {
  const out = join(root, "dist", ".build", "plugins.mjs");
  await build({
    entryPoints: [join(root, "host-shim", "xs", "plugins.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    outfile: out,
    logLevel: "silent",
  });
  return import(pathToFileURL(out).href + `?t=${Date.now()}`);
}

function hostSpecifiers() {
  const raw = JSON.parse(readFileSync(join(root, "host-shim", "modules.json"), "utf8"));
  return Object.keys(raw).filter((k) => k !== "//");
}

/** Device entry: src/app/main.ts, else src/index.ts (the simulator's script, which starts the program). */
export function deviceEntry() {
  for (const f of ["src/app/main.ts", "src/index.ts"]) if (existsSync(join(root, f))) return join(root, f);
  return undefined;
}

/** The preloadable device module: exports `start()`, runs nothing when evaluated. */
export function deviceModule() {
  const f = join(root, "src", "app", "start.ts");
  return existsSync(f) ? f : undefined;
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

/** Minified + gzip size of an ES module bundle of `entry` with host modules external. */
export async function measureDeviceSize(entry) {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "neutral",
    external: [...hostSpecifiers(), "embedded:*"],
    minify: true,
    write: false,
    logLevel: "silent",
  });
  const bytes = r.outputFiles[0].contents;
  return { minified: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

/**
 * Moddable module name -> source: the library's entries (package.json "exports"
 * names the same files for TypeScript and esbuild). "mote/app" is the default
 * device program's start(), which dist/device/main.js calls.
 */
export const LIBRARY_ENTRIES = {
  mote: "src/index.ts",
  "mote/mqtt": "src/mqtt/index.ts",
  "mote/coap": "src/coap/index.ts",
  "mote/net": "src/net/index.ts",
  "mote/ota": "src/ota/index.ts",
  "mote/device": "src/device.ts",
  "mote/app": "src/app/start.ts",
};

/**
 * dist/lib/: the entries as ES modules for mcconfig, code shared between them
 * split into chunk modules (one copy of each class, so `instanceof` and module
 * state hold across "mote/mqtt" and "mote"). Imports between the files are
 * rewritten from "./chunk-X.js" to module names ("mote/chunk-X"): Moddable
 * names a module by its manifest entry, not by its path.
 */
async function buildLibrary() {
  const outdir = join(root, "dist", "lib");
  const entryPoints = Object.fromEntries(Object.entries(LIBRARY_ENTRIES).map(([name, file]) => [name, join(root, file)]));
  const r = await build({
    entryPoints,
    bundle: true,
    splitting: true,
    format: "esm",
    target: "es2022",
    platform: "neutral",
    external: [...hostSpecifiers(), "embedded:*"],
    outdir,
    chunkNames: "mote/chunk-[hash]",
    legalComments: "none",
    metafile: true,
    logLevel: "warning",
  });
  const outputs = Object.keys(r.metafile.outputs).filter((f) => f.endsWith(".js"));
  for (const rel of outputs) {
    const file = join(root, rel);
    const from = posix.dirname(relative(outdir, file).split("\\").join("/"));
    const code = readFileSync(file, "utf8").replace(/((?:\bfrom|\bimport)\s*)"(\.\.?\/[^"]+)\.js"/g, (_, lead, spec) => `${lead}"${posix.join(from, spec)}"`);
    writeFileSync(file, code);
  }
  // Chunks of an earlier build go only now (a build reading dist/lib meanwhile sees whole files).
  const kept = new Set(outputs.map((rel) => join(root, rel)));
  for (const f of readdirSync(join(outdir, "mote"))) if (f.startsWith("chunk-") && !kept.has(join(outdir, "mote", f))) rmSync(join(outdir, "mote", f));
  console.log(`lib: dist/lib/ (${Object.keys(LIBRARY_ENTRIES).length} entries, ${outputs.length - Object.keys(LIBRARY_ENTRIES).length} shared chunks)`);
}

/**
 * dist/types/: declarations for the package's exports (tsc, from src/ and the
 * simulator API host-shim/sim/app.ts), with our hand-written .d.ts files beside them.
 */
function buildTypes() {
  const out = join(root, "dist", "types");
  rmSync(out, { recursive: true, force: true });
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  // The ambient declarations tsconfig.json includes (host modules): src/**/*.d.ts and XS's globals.
  const ambient = readdirSync(join(root, "src"), { recursive: true }).map(String).filter((f) => f.endsWith(".d.ts")).map((f) => join("src", f));
  const entries = [...new Set([...Object.values(LIBRARY_ENTRIES), "host-shim/sim/app.ts", ...ambient, "node_modules/@moddable/typings/xs.d.ts"])];
  const flags = ["--declaration", "--emitDeclarationOnly", "--noCheck", "--outDir", out, "--rootDir", ".", "--skipLibCheck", "--strict"]; // type errors are `npm run typecheck`'s: here only the declarations
  const options = ["--target", "es2022", "--module", "es2022", "--moduleResolution", "bundler", "--types", "node", "--lib", "ES2022,DOM"];
  const r = spawnSync(process.execPath, [tsc, ...flags, ...options, ...entries], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`tsc declarations failed:\n${(r.stdout + r.stderr).trim()}`);
  cpSync(join(root, "src"), join(out, "src"), { recursive: true, filter: (f) => !/\.ts$/.test(f) || f.endsWith(".d.ts") });
  console.log("types: dist/types/");
}

/** dist/node/NAME: `entry` bundled as an ES module for Node 20, its packages left external. */
async function buildNodeBundle(entry, name, esbuildPlugins) {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile: join(root, "dist", "node", name),
    logLevel: "warning",
    plugins: esbuildPlugins,
  });
}

/** dist/node/sim.mjs: the simulator as a library for apps ("mote/sim": startApp, startSimulation). */
async function buildNodeSim(plugins) {
  const entry = join(root, "host-shim", "sim", "app.ts");
  if (!existsSync(entry)) return;
  await buildNodeBundle(entry, "sim.mjs", [plugins.nodeTwinsPlugin(root)]);
  console.log("sim-api: dist/node/sim.mjs");
}

async function buildDevice() {
  const entry = deviceModule();
  if (!entry) {
    console.log("device: skipped (no src/app/start.ts yet)");
    return;
  }
  await buildLibrary();
  const outdir = join(root, "dist", "device");
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  // Moddable runs the module named "main"; the library is preloaded (manifest_lib.json) and only main starts the program.
  writeFileSync(join(outdir, "main.js"), `// Generated by scripts/build.mjs: the default device program, an app on mote's library (manifest.json).\nimport { start } from "mote/app";\n\nstart();\n`);
  const size = await measureDeviceSize(entry);
  writeFileSync(join(root, "dist", "sizes.json"), JSON.stringify({ entry: relative(root, entry), ...size }, null, 2) + "\n");
  console.log(`device: dist/device/main.js on dist/lib/, ${relative(root, entry)} — minified ${kb(size.minified)}, gzip ${kb(size.gzip)}`);
}

async function buildSimDevice(plugins) {
  const entry = deviceEntry();
  if (!entry) {
    console.log("sim: skipped (no device entry yet)");
    return;
  }
  await build({
    stdin: {
      contents: `import ${JSON.stringify(join(root, "host-shim", "xs", "bridge.ts"))};\nimport ${JSON.stringify(entry)};\n`,
      resolveDir: root,
      loader: "ts",
      sourcefile: "sim-device-entry.ts",
    },
    bundle: true,
    format: "iife",
    target: "es2022",
    platform: "neutral",
    mainFields: ["module", "main"],
    outfile: join(root, "dist", "sim", "device.js"),
    logLevel: "warning",
    plugins: [plugins.xsStubsPlugin(root)],
  });
  console.log("sim: dist/sim/device.js");
}

function taskFiles() {
  const dir = join(root, "cli", "tasks");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && f !== "types.ts" && !f.endsWith(".test.ts"))
    .map((f) => join(dir, f));
}

async function buildSimTools(plugins) {
  const files = taskFiles();
  const lines = [
    `import ${JSON.stringify(join(root, "host-shim", "xs", "bridge.ts"))};`,
    `import ${JSON.stringify(join(root, "host-shim", "xs", "task-runner.ts"))};`,
    "const g = globalThis as unknown as Record<string, unknown>;",
  ];
  files.forEach((f, i) => {
    lines.push(`import * as t${i} from ${JSON.stringify(f)};`);
    lines.push(`for (const [k, v] of Object.entries(t${i})) if (typeof v === "function") g[k] = v;`);
  });
  await build({
    stdin: { contents: lines.join("\n"), resolveDir: root, loader: "ts", sourcefile: "sim-tools-entry.ts" },
    bundle: true,
    format: "iife",
    target: "es2022",
    platform: "neutral",
    mainFields: ["module", "main"],
    outfile: join(root, "dist", "sim", "tools.js"),
    logLevel: "warning",
    plugins: [plugins.xsStubsPlugin(root, ["mote:task-io"])],
  });
  console.log(`tools: dist/sim/tools.js (${files.length} task file${files.length === 1 ? "" : "s"}: ${files.map((f) => relative(root, f)).join(", ") || "none yet"})`);
}

/**
 * One ES module for mcconfig (host modules external) at `outfile`, and beside it
 * main.js with `main` (Moddable runs the module named "main").
 */
async function buildForModdable(entry, outfile, moreExternal, main) {
  await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "neutral",
    external: [...hostSpecifiers(), "embedded:*", ...moreExternal],
    outfile,
    legalComments: "none",
    logLevel: "warning",
  });
  writeFileSync(join(dirname(outfile), "main.js"), main);
}

/** The CLI tasks for Moddable's own runtime: dist/moddable-tools/ (mote-tools.js + main.js), built by manifest_tools.json. */
async function buildModdableTools() {
  const entry = join(root, "cli", "moddable", "main.ts");
  if (!existsSync(entry)) return;
  const outdir = join(root, "dist", "moddable-tools");
  mkdirSync(outdir, { recursive: true });
  await buildForModdable(entry, join(outdir, "mote-tools.js"), ["file", "mote/process"], `// Generated by scripts/build.mjs: Moddable's entry module for the CLI tasks.\nimport { run } from "mote-tools";\n\nrun();\n`);
  console.log("moddable-tools: dist/moddable-tools/mote-tools.js");
}

/** Files that bundle on their own (others are work in progress: left out of the CLI with a message). */
async function bundlable(files, plugins) {
  const ok = [];
  for (const f of files) {
    try {
      await build({ entryPoints: [f], bundle: true, platform: "node", format: "esm", packages: "external", write: false, logLevel: "silent", plugins: [plugins.nodeTwinsPlugin(root)] });
      ok.push(f);
    } catch (e) {
      const first = e && Array.isArray(e.errors) && e.errors[0] ? e.errors[0].text : e.message;
      console.log(`cli: leaving out ${relative(root, f)} (does not build: ${first})`);
    }
  }
  return ok;
}

/** cli/registry.ts -> a static table of the groups and task files that exist (and build) now. */
async function cliRegistryPlugin(plugins) {
  const groupFiles = readdirSync(join(root, "cli"))
    .filter((f) => /^[a-z][a-z0-9-]*\.ts$/.test(f) && !["main.ts", "args.ts", "engine.ts", "registry.ts"].includes(f) && !f.includes("-"))
    .map((f) => join(root, "cli", f));
  const groups = (await bundlable(groupFiles, plugins)).map((f) => relative(join(root, "cli"), f).slice(0, -3));
  const tasks = await bundlable(taskFiles(), plugins);
  return {
    name: "mote-cli-registry",
    setup(b) {
      b.onLoad({ filter: /[\\/]cli[\\/]registry\.ts$/ }, () => {
        const out = [
          "// Generated by scripts/build.mjs from cli/*.ts and cli/tasks/*.ts.",
          "type Task = (args: Record<string, unknown>, io: unknown) => void;",
          "export interface CommandGroup { main(argv: string[]): Promise<number> | number }",
          "const groups: Record<string, () => Promise<Record<string, unknown>>> = {",
          ...groups.map((g) => `  ${JSON.stringify(g)}: () => import(${JSON.stringify(join(root, "cli", g + ".ts"))}),`),
          "};",
          "const tasks: (() => Promise<Record<string, unknown>>)[] = [",
          ...tasks.map((f) => `  () => import(${JSON.stringify(f)}),`),
          "];",
          "export async function loadGroup(name: string): Promise<CommandGroup | undefined> {",
          "  const l = Object.prototype.hasOwnProperty.call(groups, name) ? groups[name] : undefined;",
          "  if (!l) return undefined;",
          "  const m = await l();",
          "  return typeof m.main === 'function' ? (m as unknown as CommandGroup) : undefined;",
          "}",
          `export function taskFiles(): string[] { return ${JSON.stringify(tasks)}; }`,
          "export async function loadTask(name: string): Promise<Task | undefined> {",
          "  for (const l of tasks) { const m = await l(); if (typeof m[name] === 'function') return m[name] as Task; }",
          "  return undefined;",
          "}",
        ];
        return { contents: out.join("\n"), loader: "ts", resolveDir: join(root, "cli") };
      });
    },
  };
}

async function buildNodeCli(plugins) {
  const entry = join(root, "cli", "main.ts");
  if (!existsSync(entry)) {
    console.log("cli: skipped (no cli/main.ts yet)");
    return;
  }
  await buildNodeBundle(entry, "cli.mjs", [plugins.nodeTwinsPlugin(root), await cliRegistryPlugin(plugins)]);
  console.log("cli: dist/node/cli.mjs");
}

async function main() {
  let failed = false;
  const step = async (name, fn) => {
    if (!want(name)) return;
    try {
      await fn();
    } catch (e) {
      failed = true;
      const errors = e && Array.isArray(e.errors) ? e.errors : [];
      console.error(`${name}: FAILED — ${errors.length ? errors.map((x) => x.text + (x.location ? ` (${x.location.file}:${x.location.line})` : "")).join("; ") : e.message}`);
    }
  };
  const plugins = await loadPlugins();
  await step("device", buildDevice);
  await step("sim", () => buildSimDevice(plugins));
  await step("tools", () => buildSimTools(plugins));
  await step("cli", () => buildNodeCli(plugins));
  await step("sim-api", () => buildNodeSim(plugins));
  await step("moddable-tools", buildModdableTools);
  if (only !== undefined && only.has("types")) await step("types", buildTypes);
  if (failed) {
    if (prepare) console.error("build: some bundles failed (see above); run `npm run build` after fixing them");
    else process.exitCode = 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
