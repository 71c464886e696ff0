// One place that knows how mchost is built: used by scripts/build-mchost.mjs and by
// host-shim/moddable/sdk.ts (which builds it on first use).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const mchostSource = join(root, "host-shim", "moddable", "mchost.c");
export const mchostBinary = join(root, ".moddable", "bin", "mchost");

export function moddableHome() {
  return process.env.MODDABLE || join(homedir(), ".cache", "moddable-8.2.3");
}

/** Builds .moddable/bin/mchost when it is missing or older than its source; returns its path. */
export function buildMchost({ force = false, home = moddableHome() } = {}) {
  const include = join(home, "build", "simulators", "modules");
  if (!existsSync(join(include, "screen.h"))) throw new Error(`no Moddable SDK at ${home} (screen.h not in ${include}); set MODDABLE`);
  if (!force && existsSync(mchostBinary) && statSync(mchostBinary).mtimeMs >= statSync(mchostSource).mtimeMs) return mchostBinary;
  let glib;
  try {
    glib = execFileSync("pkg-config", ["--cflags", "--libs", "glib-2.0"], { encoding: "utf8" }).trim().split(/\s+/);
  } catch {
    throw new Error("GLib's headers are missing (pkg-config glib-2.0 failed): apt-get install -y pkg-config libglib2.0-dev");
  }
  mkdirSync(dirname(mchostBinary), { recursive: true });
  // Built beside and renamed into place: test files that start at once may each build it.
  const partial = `${mchostBinary}.${process.pid}`;
  execFileSync("cc", ["-O2", "-DmxLinux=1", `-I${include}`, mchostSource, "-o", partial, ...glib, "-ldl"], { stdio: ["ignore", "inherit", "inherit"] });
  renameSync(partial, mchostBinary);
  return mchostBinary;
}
