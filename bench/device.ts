/**
 * Bundle sizes: the device bundle (what mcconfig compiles) and per-feature
 * entries, minified and gzip'd, host modules external (as on the device).
 *   npm run bench -- device [--json]
 */
import { build } from "esbuild";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { projectRoot } from "../host-shim/xs/engine.js";
import type { Emit } from "./lib.js";

const ENTRIES: [metric: string, files: string[]][] = [
  ["device_bundle", ["src/app/main.ts", "src/index.ts"]],
  ["feature_mqtt", ["src/mqtt/index.ts"]],
  ["feature_coap", ["src/coap/index.ts"]],
  ["feature_net", ["src/net/index.ts"]],
  ["feature_ota", ["src/ota/index.ts"]],
];

export async function sizeOf(entry: string): Promise<{ minified: number; gzip: number }> {
  const root = projectRoot();
  const hostModules = Object.keys(JSON.parse(readFileSync(join(root, "host-shim", "modules.json"), "utf8"))).filter((k) => k !== "//");
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "neutral",
    external: [...hostModules, "embedded:*", "text/*"],
    minify: true,
    write: false,
    logLevel: "silent",
  });
  const bytes = r.outputFiles[0].contents;
  return { minified: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

export async function run(emit: Emit): Promise<void> {
  const root = projectRoot();
  for (const [metric, candidates] of ENTRIES) {
    const file = candidates.map((f) => join(root, f)).find((f) => existsSync(f));
    if (file === undefined) continue;
    const size = await sizeOf(file);
    const entry = file.slice(root.length + 1);
    emit({ metric: `${metric}_minified`, unit: "bytes", mote: size.minified, peer: null, peer_value: null, ratio: null, entry });
    emit({ metric: `${metric}_gzip`, unit: "bytes", mote: size.gzip, peer: null, peer_value: null, ratio: null, entry });
  }
}
