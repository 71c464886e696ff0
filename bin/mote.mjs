#!/usr/bin/env node
// `mote` entry: runs the bundled CLI (dist/node/cli.mjs, made by `npm run build`).
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const cli = fileURLToPath(new URL("../dist/node/cli.mjs", import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write("mote: not-built: dist/node/cli.mjs is missing — run `npm run build` first\n");
  process.exit(1);
}
const { main } = await import(pathToFileURL(cli).href);
const code = await main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`mote: ${e?.code ?? "error"}: ${e?.message ?? e}\n`);
  return 1;
});
await Promise.all([process.stdout, process.stderr].map((s) => new Promise((r) => (s.writableLength === 0 ? r() : s.write("", r)))));
process.exit(code);
