#!/usr/bin/env node
// npm run fuzz -- [--inputs N] [--target NAME] [--seed S] [--index I] [--jobs J] [--json] [--list]
// Bundles fuzz/main.ts with esbuild (TypeScript; host modules bound to their
// Node twins like bench/run.mjs; npm packages external) into dist/fuzz/main.mjs
// and runs it. The bundle is also the worker script each target runs in.
import { importForNode } from "../scripts/node-bundle.mjs";

const mod = await importForNode("fuzz/main.ts", "dist/fuzz/main.mjs");
try {
  process.exitCode = await mod.main(process.argv.slice(2));
} catch (e) {
  console.error(`fuzz: ${e?.message ?? e}`);
  process.exitCode = 2;
}
