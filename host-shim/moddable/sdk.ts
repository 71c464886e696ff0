/**
 * Where the Moddable SDK is on this machine: its tools (mcconfig, xsc, xsl),
 * built for Linux, and `mchost`, the headless runner for `-p lin` builds.
 *
 * Looked for in $MODDABLE (with mchost at $MOTE_MCHOST or $MODDABLE/mchost),
 * else in the folder that the SDK's setup script fills by default
 * (~/.cache/moddable-8.2.3). `.ci/run` runs that script first.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const SDK_VERSION = "8.2.3";

export interface ModdableSdk {
  /** $MODDABLE */
  readonly home: string;
  /** the folder with mcconfig, xsc, xsl */
  readonly bin: string;
  /** the headless runner for mc.so */
  readonly mchost: string;
}

function at(home: string): ModdableSdk | string {
  const bin = join(home, "build", "bin", "lin", "release");
  const mchost = process.env.MOTE_MCHOST ?? join(home, "mchost");
  if (!existsSync(join(bin, "mcconfig"))) return `no mcconfig in ${bin}`;
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
  return `Moddable SDK ${SDK_VERSION} not set up (${why}; run the SDK's setup script, as .ci/run does, and export MODDABLE)`;
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
