// One way to run a TypeScript tool on Node (bench, fuzz, soak): bundle the
// entry with esbuild — host module specifiers bound to their Node twins
// (host-shim/node/), npm packages left external — and import the result.
import { build } from "esbuild";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

let plugins;

/** Bundles `entry` (relative to the repository root) to `outfile` and imports it. */
export async function importForNode(entry, outfile) {
  plugins ??= await (await import(pathToFileURL(join(root, "scripts", "build.mjs")).href)).loadPlugins();
  const out = join(root, outfile);
  mkdirSync(dirname(out), { recursive: true });
  await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile: out,
    logLevel: "warning",
    plugins: [plugins.nodeTwinsPlugin(root)],
  });
  // a query per import: a rebuilt bundle in the same process is loaded anew
  return import(`${pathToFileURL(out).href}?t=${Date.now()}`);
}
