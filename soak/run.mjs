#!/usr/bin/env node
// npm run soak -- [--count N] [--broker-restarts B] [--wifi-drops W] [--power-cuts P] [--floods F] [--json] [--only mqtt|coap]
// Bundles soak/main.ts with esbuild (TypeScript; host modules bound to their
// Node twins like bench/run.mjs; npm packages external) into dist/soak/main.mjs
// and runs it. See docs/reliability.md.
import { build } from "esbuild";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "dist", "soak");
mkdirSync(outDir, { recursive: true });
const { loadPlugins } = await import(pathToFileURL(join(root, "scripts", "build.mjs")).href);
const plugins = await loadPlugins();
const out = join(outDir, "main.mjs");
await build({
  entryPoints: [join(root, "soak", "main.ts")],
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
  console.error(`soak: ${e?.stack ?? e}`);
  process.exitCode = 2;
}
process.exit();
