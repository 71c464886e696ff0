/**
 * Helpers for the tests of projects built on mote (test/apps/): pack this
 * checkout as npm would publish it, and run a command in a project folder.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { run } from "../helpers/run.js";

const root = join(__dirname, "..", "..");

/**
 * `npm pack` of this checkout into `dest`; returns the .tgz path. dist/ must be
 * built (CI runs `npm run build` first); the declarations (dist/types, which
 * `npm pack` itself would make through prepack) are made here, then packed
 * with --ignore-scripts so other bundles are not rebuilt under running tests.
 */
export async function packMote(dest: string): Promise<string> {
  const types = await run(process.execPath, [join(root, "scripts", "build.mjs"), "--only=types"], { cwd: root, timeoutMs: 180_000 });
  if (types.status !== 0) throw new Error(`declarations did not build:\n${types.stdout}${types.stderr}`);
  const r = await run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", dest], { cwd: root, timeoutMs: 120_000 });
  if (r.status !== 0) throw new Error(`npm pack failed:\n${r.stdout}${r.stderr}`);
  const tgz = readdirSync(dest).find((f) => f.endsWith(".tgz"));
  if (tgz === undefined) throw new Error(`npm pack wrote no .tgz into ${dest}`);
  return join(dest, tgz);
}

/**
 * Runs `cmd args` in `cwd` with a clean environment for a nested vitest; output is stdout +
 * stderr. Asynchronous: the test's own peers (an MQTT observer's keepalive) keep running.
 */
export async function runIn(cwd: string, cmd: string, args: string[], timeoutMs: number, env: Record<string, string> = {}): Promise<{ status: number | null; output: string }> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("VITEST") && k !== "NODE_OPTIONS" && k !== "TEST") clean[k] = v;
  const r = await run(cmd, args, { cwd, env: { ...clean, NO_COLOR: "1", FORCE_COLOR: "0", ...env }, timeoutMs });
  return { status: r.status, output: r.output };
}
