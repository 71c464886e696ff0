#!/usr/bin/env node
// Where the bytes of each device-side bundle go.
//   node scripts/size-report.mjs [--top=N] [--json] [--entry=src/mqtt/index.ts,...] [--variant=NAME]
// Builds each entry the way bench/device.ts measures it (esbuild, ESM, es2022,
// platform neutral, minify, host modules external) with `metafile: true`, and prints
// the minified + gzip size of the whole bundle and the bytes each input file
// contributes to the minified output (esbuild's `bytesInOutput`).
// --variant picks a candidate build setting (see VARIANTS) to compare against "bench".
import { build } from "esbuild";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const arg = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const top = Number(arg("top") ?? 15);
const json = argv.includes("--json");
const variant = arg("variant") ?? "bench";

const DEFAULT_ENTRIES = [
  ["device", "src/app/main.ts"],
  ["mqtt", "src/mqtt/index.ts"],
  ["mqtt-core", "src/mqtt/core.ts"],
  ["coap", "src/coap/index.ts"],
  ["coap-client", "src/coap/client-only.ts"],
  ["net", "src/net/index.ts"],
  ["ota", "src/ota/index.ts"],
];
const entries = arg("entry")
  ? arg("entry").split(",").map((f) => [f, f])
  : DEFAULT_ENTRIES.filter(([, f]) => existsSync(join(root, f)));

const hostModules = Object.keys(JSON.parse(readFileSync(join(root, "host-shim", "modules.json"), "utf8"))).filter((k) => k !== "//");

/** Candidate esbuild settings; "bench" is exactly bench/device.ts's sizeOf(). */
const VARIANTS = {
  bench: {},
  // what scripts/build.mjs measureDeviceSize does (no "text/*" external)
  buildjs: { external: [...hostModules, "embedded:*"] },
  proposed: { legalComments: "none", drop: ["debugger"], keepNames: false, treeShaking: true, charset: "utf8" },
};

async function measure(entry) {
  const r = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "neutral",
    external: [...hostModules, "embedded:*", "text/*"],
    minify: true,
    write: false,
    metafile: true,
    logLevel: "silent",
    ...VARIANTS[variant],
  });
  const bytes = r.outputFiles[0].contents;
  const out = Object.values(r.metafile.outputs)[0];
  const inputs = Object.entries(out.inputs)
    .map(([file, v]) => ({ file, bytes: v.bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
  return { minified: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, inputs, text: new TextDecoder().decode(bytes) };
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const results = [];
for (const [name, entry] of entries) {
  const m = await measure(entry);
  results.push({ name, entry, minified: m.minified, gzip: m.gzip, inputs: m.inputs });
  if (json) continue;
  console.log(`\n${name} (${entry}) [${variant}]: minified ${m.minified} B (${kb(m.minified)}), gzip ${m.gzip} B (${kb(m.gzip)}), ${m.inputs.length} inputs`);
  for (const i of m.inputs.slice(0, top)) {
    const pct = ((100 * i.bytes) / m.minified).toFixed(1).padStart(5);
    console.log(`  ${String(i.bytes).padStart(7)} ${pct}%  ${i.file}`);
  }
  if (m.inputs.length > top) {
    const rest = m.inputs.slice(top).reduce((s, i) => s + i.bytes, 0);
    console.log(`  ${String(rest).padStart(7)}         (${m.inputs.length - top} more)`);
  }
}
if (json) console.log(JSON.stringify(results, null, 2));
else {
  console.log("\nsummary:");
  for (const r of results) console.log(`  ${r.name.padEnd(12)} ${String(r.minified).padStart(7)} B  gzip ${String(r.gzip).padStart(6)} B  ${r.entry}`);
}
