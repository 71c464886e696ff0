/**
 * Node side: where the Node twin of a host module comes from.
 *
 * Under vitest (and anything else that can import .ts), the twin is imported
 * from host-shim/node/<file>.ts by path. scripts/build.mjs replaces this file
 * with a generated one that imports every existing twin statically, so the
 * bundled CLI (dist/node/cli.mjs) needs no TypeScript loader.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const shimRoot = new URL("../", import.meta.url);

let table: Record<string, string> | undefined;

/** Host module specifier -> file name, from host-shim/modules.json. */
export function moduleTable(): Record<string, string> {
  if (table === undefined) {
    const raw = JSON.parse(readFileSync(new URL("modules.json", shimRoot), "utf8")) as Record<string, string>;
    table = {};
    for (const [spec, file] of Object.entries(raw)) if (spec !== "//") table[spec] = file;
  }
  return table;
}

/** The Node twin's module namespace, or undefined when it does not exist (yet). */
export async function loadTwin(specifier: string): Promise<Record<string, unknown> | undefined> {
  const file = moduleTable()[specifier];
  if (file === undefined) return undefined;
  const url = new URL(`node/${file}.ts`, shimRoot);
  if (!existsSync(fileURLToPath(url))) return undefined;
  return (await import(/* @vite-ignore */ pathToFileURL(fileURLToPath(url)).href)) as Record<string, unknown>;
}
