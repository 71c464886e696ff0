/**
 * `npm run bench -- codec-moddable [--json]`: PUBLISH 64 B encode+decode inside
 * Moddable's own XS runtime (mcconfig -m -i -p lin, headless mchost), mote's codec
 * vs a minimal hand-written codec in the same machine (bench/codec-moddable-entry.ts).
 * The entry is bundled with esbuild (es2022, as the device library is) into a
 * one-module Moddable program; rounds alternate between the two, the figures are
 * the median of each side's rounds and the median of the rounds' mote/peer ratios.
 */
import { build } from "esbuild";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildManifest } from "../host-shim/moddable/build.js";
import { runModdable } from "../host-shim/moddable/run.js";
import { findModdable } from "../host-shim/moddable/sdk.js";
import { projectRoot } from "../host-shim/xs/engine.js";
import type { Emit } from "./lib.js";

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Writes the program's folder (main.js + manifest.json) under .moddable/src/codec-bench; returns its manifest. */
async function programSource(): Promise<string> {
  const dir = join(projectRoot(), ".moddable", "src", "codec-bench");
  mkdirSync(dir, { recursive: true });
  const r = await build({
    entryPoints: [join(projectRoot(), "bench", "codec-moddable-entry.ts")],
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    write: false,
    logLevel: "silent",
    define: { PROFILE: process.env.CODEC_PROFILE ? "true" : "false" },
  });
  const main = join(dir, "main.js");
  const text = r.outputFiles[0].text;
  // write only when it differs, so make's incremental build stays incremental
  if (!existsSync(main) || readFileSync(main, "utf8") !== text) writeFileSync(main, text);
  const manifest = join(dir, "manifest.json");
  const m = JSON.stringify({ include: ["$(MODDABLE)/examples/manifest_base.json"], modules: { "*": ["./main"] } }, null, 2);
  if (!existsSync(manifest) || readFileSync(manifest, "utf8") !== m) writeFileSync(manifest, m);
  return manifest;
}

export async function run(emit: Emit): Promise<void> {
  const sdk = findModdable();
  if (typeof sdk === "string") throw new Error(sdk);
  const so = await buildManifest(await programSource(), join(projectRoot(), ".moddable", "codec-bench"), sdk);
  const cwd = mkdtempSync(join(tmpdir(), "mote-bench-codec-"));
  const p = runModdable(so, sdk, { cwd });
  try {
    const done = await p.waitFor(/codec-done/, 120_000);
    if (!done.includes("ok")) throw new Error(`the program decoded nothing:\n${p.lines.join("\n")}`);
    const rounds: Record<string, number[]> = {};
    for (const l of p.lines) {
      const m = /codec-round (\S+) (\d+)/.exec(l);
      if (m) (rounds[m[1]] ??= []).push(Number(m[2]));
    }
    for (const [k, v] of Object.entries(rounds)) if (k !== "mote" && k !== "peer") emit({ metric: `codec_profile_${k}`, unit: "ops/s", engine: "xs", mote: Math.round(median(v)) });
    const mote = median(rounds.mote ?? []);
    const peer = median(rounds.peer ?? []);
    // each round's pair ran back to back under the same load: their ratio is steadier than either figure
    const paired = (rounds.mote ?? []).map((m, i) => m / (rounds.peer ?? [])[i]);
    emit({
      metric: "codec_publish_64B_moddable",
      unit: "packets/s",
      engine: "xs",
      mote: Math.round(mote),
      peer: "hand-written PUBLISH codec (bench/codec-moddable-entry.ts), same XS",
      peer_value: Math.round(peer),
      ratio: +(mote / peer).toFixed(2),
      target: "≥ 1.0×",
      rounds: (rounds.mote ?? []).length,
      median_paired_ratio: +median(paired).toFixed(2),
      mote_rounds: (rounds.mote ?? []).join(" "),
      peer_rounds: (rounds.peer ?? []).join(" "),
      platform: "Moddable 8.2.3 lin, mcconfig -m -i",
    });
  } finally {
    await p.kill();
    rmSync(cwd, { recursive: true, force: true });
  }
}
