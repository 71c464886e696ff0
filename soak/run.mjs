#!/usr/bin/env node
// npm run soak -- [--count N] [--broker-restarts B] [--wifi-drops W] [--power-cuts P] [--floods F] [--json] [--only mqtt|coap]
// Bundles soak/main.ts with esbuild (TypeScript; host modules bound to their
// Node twins like bench/run.mjs; npm packages external) into dist/soak/main.mjs
// and runs it. See docs/reliability.md.
import { importForNode } from "../scripts/node-bundle.mjs";

const mod = await importForNode("soak/main.ts", "dist/soak/main.mjs");
try {
  process.exitCode = await mod.main(process.argv.slice(2));
} catch (e) {
  console.error(`soak: ${e?.stack ?? e}`);
  process.exitCode = 2;
}
process.exit();
