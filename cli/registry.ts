/**
 * Where the CLI finds its subcommand groups (cli/<group>.ts) and its network
 * tasks (cli/tasks/*.ts).
 *
 * This version looks at the files at run time (vitest, anything that imports
 * .ts). scripts/build.mjs replaces it in dist/node/cli.mjs with a generated
 * table of the files that existed at build time, so the bundled CLI needs no
 * TypeScript loader.
 */
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Task } from "./tasks/types.js";

/** A subcommand group: `main(argv)` gets the arguments after the group name and returns the exit status. */
export interface CommandGroup {
  main(argv: string[]): Promise<number> | number;
}

const CLI_DIR = dirname(fileURLToPath(import.meta.url));

export async function loadGroup(name: string): Promise<CommandGroup | undefined> {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) return undefined;
  const file = join(CLI_DIR, `${name}.ts`);
  if (!existsSync(file)) return undefined;
  const mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as Partial<CommandGroup>;
  return typeof mod.main === "function" ? (mod as CommandGroup) : undefined;
}

/** Files under cli/tasks/ that hold tasks (everything but types.ts). */
export function taskFiles(): string[] {
  const dir = join(CLI_DIR, "tasks");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && f !== "types.ts" && !f.endsWith(".test.ts"))
    .map((f) => join(dir, f));
}

export async function loadTask(name: string): Promise<Task | undefined> {
  for (const file of taskFiles()) {
    const mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as Record<string, unknown>;
    if (typeof mod[name] === "function") return mod[name] as Task;
  }
  return undefined;
}
