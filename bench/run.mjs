#!/usr/bin/env node
// npm run bench -- [group ...] [--json]
// Bundles bench/<group>.ts (host modules bound to the Node twins, packages
// external) into bench/out/<group>.mjs and runs its `export async function
// run(emit)`. With --json every figure is one line:
//   {"bench":"mqtt","metric":...,"unit":...,"mote":...,"peer":...,"peer_value":...,"ratio":...}
// Without a group, every bench/*.ts except lib.ts runs.
import { importForNode } from "../scripts/node-bundle.mjs";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const json = args.includes("--json");
let groups = args.filter((a) => !a.startsWith("--"));
const all = readdirSync(join(root, "bench"))
  .filter((f) => f.endsWith(".ts") && f !== "lib.ts" && !f.endsWith(".d.ts") && !f.endsWith("-xs.ts") && !f.endsWith("-entry.ts"))
  .map((f) => f.slice(0, -3))
  .sort();
if (groups.length === 0) groups = all;

// `npm run bench -- --json | head` closes our stdout early: that is fine.
process.stdout.on("error", (e) => process.exit(e.code === "EPIPE" ? 0 : 1));


const fmt = (v) => (typeof v === "number" ? (Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : String(Number(v.toPrecision(3)))) : v ?? "-");

let failed = 0;
for (const group of groups) {
  const file = join(root, "bench", `${group}.ts`);
  if (!existsSync(file)) {
    console.error(`bench: no bench/${group}.ts (groups: ${all.join(", ")})`);
    failed++;
    continue;
  }
  try {
    const mod = await importForNode(`bench/${group}.ts`, `bench/out/${group}.mjs`);
    if (typeof mod.run !== "function") throw new Error(`bench/${group}.ts exports no run(emit)`);
    if (!json) console.log(`\n## ${group}`);
    await mod.run((figure) => {
      if (json) console.log(JSON.stringify({ bench: group, ...figure }));
      else {
        const peer = figure.peer ? `  vs ${figure.peer} ${fmt(figure.peer_value)}  ratio ${fmt(figure.ratio)}` : "";
        console.log(`${figure.metric.padEnd(36)} ${String(fmt(figure.mote)).padStart(14)} ${figure.unit}${figure.engine ? ` [${figure.engine}]` : ""}${peer}`);
      }
    });
  } catch (e) {
    failed++;
    console.error(`bench ${group}: FAILED — ${e?.errors?.[0]?.text ?? e?.message ?? e}`);
  }
}
process.exit(failed ? 1 : 0);
