#!/usr/bin/env node
// npm run fuzz -- [--inputs N] [--target NAME] [--seed S] [--index I] [--jobs J] [--json] [--list]
// Bundles fuzz/main.ts with esbuild (TypeScript; host modules bound to their
// Node twins like bench/run.mjs; npm packages external) into dist/fuzz/main.mjs
// and runs it. The bundle is also the worker script each target runs in.
import { build } from "esbuild";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "dist", "fuzz");
mkdirSync(outDir, { recursive: true });
const { loadPlugins } = await import(pathToFileURL(join(root, "scripts", "build.mjs")).href);
const plugins = await loadPlugins();
const out = join(outDir, "main.mjs");
await build({
  entryPoints: [join(root, "fuzz", "main.ts")],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  outfile: out,
  logLevel: "warning",
  plugins: [plugins.nodeTwinsPlugin(root)],
});
const mod = await import(pathToFileURL(out).href);
try {
  process.exitCode = await mod.main(process.argv.slice(2));
} catch (e) {
  console.error(`fuzz: ${e?.message ?? e}`);
  process.exitCode = 2;
}
