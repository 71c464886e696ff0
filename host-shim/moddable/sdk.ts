/**
 * Where the Moddable SDK is on this machine: its tools (mcconfig, xsc, xsl),
 * built for Linux, and `mchost`, the headless runner for `-p lin` builds.
 *
 * The SDK is looked for in $MODDABLE, else in the folder that the SDK's setup
 * script fills by default (~/.cache/moddable-8.2.3). The runner is mote's own
 * (host-shim/moddable/mchost.c, built into .moddable/bin/mchost by
 * `npm run moddable:host`, and here on first use); $MOTE_MCHOST names another.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../xs/engine.js";

export const SDK_VERSION = "8.2.3";

export interface ModdableSdk {
  /** $MODDABLE */
  readonly home: string;
  /** the folder with mcconfig, xsc, xsl */
  readonly bin: string;
  /** the headless runner for mc.so */
  readonly mchost: string;
}

/** mote's headless runner, built against `home` by scripts/build-mchost.mjs when missing or stale. */
function runner(home: string): string {
  if (process.env.MOTE_MCHOST) return process.env.MOTE_MCHOST;
  const root = projectRoot();
  try {
    execFileSync(process.execPath, [join(root, "scripts", "build-mchost.mjs")], {
      env: { ...process.env, MODDABLE: home },
      stdio: ["ignore", "ignore", "pipe"],
    });
  } catch (e) {
    const why = String((e as { stderr?: unknown }).stderr ?? e).trim();
    throw new Error(why || "scripts/build-mchost.mjs failed");
  }
  return join(root, ".moddable", "bin", "mchost");
}

function at(home: string): ModdableSdk | string {
  const bin = join(home, "build", "bin", "lin", "release");
  if (!existsSync(join(bin, "mcconfig"))) return `no mcconfig in ${bin}`;
  let mchost: string;
  try {
    mchost = runner(home);
  } catch (e) {
    return `mchost: ${(e as Error).message}`;
  }
  if (!existsSync(mchost)) return `no mchost at ${mchost}`;
  return { home, bin, mchost };
}

/** The SDK, or why there is none usable. */
export function findModdable(): ModdableSdk | string {
  const homes = process.env.MODDABLE ? [process.env.MODDABLE] : [join(homedir(), ".cache", `moddable-${SDK_VERSION}`)];
  let why = "";
  for (const home of homes) {
    const found = at(home);
    if (typeof found !== "string") return found;
    why = found;
  }
  return `Moddable SDK ${SDK_VERSION} not set up (${why}; build the SDK's lin tools (README: Moddable's own desktop runtime) and export MODDABLE)`;
}

/**
 * For a test tier: undefined when the SDK is there; else a printed reason for
 * `describe.skipIf` — and under CI (env CI set) a thrown error, so the tier fails.
 */
export function moddableMissing(): string | undefined {
  const found = findModdable();
  if (typeof found !== "string") return undefined;
  if (process.env.CI) throw new Error(`CI: ${found}`);
  console.warn(`skipping the Moddable tier: ${found}`);
  return found;
}

/** The environment mcconfig and make need: MODDABLE, its tools first on PATH, MOTE = this project. */
export function moddableEnv(sdk: ModdableSdk, root: string): NodeJS.ProcessEnv {
  return { ...process.env, MODDABLE: sdk.home, MOTE: root, PATH: `${sdk.bin}:${process.env.PATH ?? ""}` };
}
