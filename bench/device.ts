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
  // the program without CoAP and OTA: startDevice() with neither part passed
  ["device_core", ["bench/device-core-entry.ts"]],
  ["feature_mqtt", ["src/mqtt/index.ts"]],
  ["feature_mqtt_core", ["src/mqtt/core.ts"]],
  ["feature_coap", ["src/coap/index.ts"]],
  ["feature_coap_client", ["src/coap/client-only.ts"]],
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

/** MQTT.js's own minified browser bundle: the client a desktop/web app would ship (a size peer for feature_mqtt). */
function mqttJsPeer(root: string): { minified: number; gzip: number } | undefined {
  const file = join(root, "node_modules", "mqtt", "dist", "mqtt.min.js");
  if (!existsSync(file)) return undefined;
  const bytes = readFileSync(file);
  return { minified: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

export async function run(emit: Emit): Promise<void> {
  const root = projectRoot();
  const mqttPeer = mqttJsPeer(root);
  for (const [metric, candidates] of ENTRIES) {
    const file = candidates.map((f) => join(root, f)).find((f) => existsSync(f));
    if (file === undefined) continue;
    const size = await sizeOf(file);
    const entry = file.slice(root.length + 1);
    const peer = metric === "feature_mqtt" || metric === "feature_mqtt_core" ? mqttPeer : undefined;
    for (const kind of ["minified", "gzip"] as const) {
      emit({
        metric: `${metric}_${kind}`,
        unit: "bytes",
        mote: size[kind],
        peer: peer ? "MQTT.js dist/mqtt.min.js" : null,
        peer_value: peer ? peer[kind] : null,
        // Smaller is better: ratio > 1 means mote is smaller.
        ratio: peer ? peer[kind] / size[kind] : null,
        entry,
      });
    }
  }
}
