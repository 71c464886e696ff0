/**
 * A user's own app (a project made by `mote init`, or one of examples/) in the
 * simulator: its entry file bundled for XS with mote resolved the way
 * TypeScript resolves it (package.json "exports": "mote/mqtt" ->
 * src/mqtt/index.ts), host modules bound to the bridge, then booted like the
 * default program, with the embedded peers.
 *
 *   import { startApp } from "mote/sim";
 *   const sim = await startApp("src/main.ts", { config: { topic: "lab/t" } });
 *   ...                          // watch sim.brokerUrl with any MQTT client
 *   await sim.stop();
 *
 * The app gets as build-time values (mc/config, read with `buildTimeValues`
 * from "mote/device"): ssid, password, broker (mqtt://…) and coap
 * (coap://…, the embedded CoAP server: /sensor, /large), plus `config`.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Plugin } from "esbuild";
import { projectRoot } from "../xs/engine.js";
import { startSimulation, type Simulation, type SimulationOptions } from "./simulation.js";

/** The script XS evaluates for the app at `entry` (absolute, or relative to the working directory). */
export async function bundleApp(entry: string): Promise<string> {
  const file = resolve(entry);
  if (!existsSync(file)) throw Object.assign(new Error(`no-app: ${file} does not exist`), { code: "no-app" });
  const root = projectRoot();
  const esbuild = await import("esbuild");
  const { xsStubsPlugin } = await import("../xs/plugins.js");
  const result = await esbuild.build({
    stdin: {
      // The simulator polls globalThis.moteStatus(); an app that reports no status answers undefined.
      contents: [
        `import ${JSON.stringify(join(root, "host-shim", "xs", "bridge.ts"))};`,
        `const g = globalThis as unknown as { moteStatus?: () => unknown };`,
        `if (typeof g.moteStatus !== "function") g.moteStatus = () => undefined;`,
        `import ${JSON.stringify(file)};`,
      ].join("\n"),
      resolveDir: dirname(file),
      loader: "ts",
      sourcefile: "app-entry.ts",
    },
    bundle: true,
    format: "iife",
    target: "es2022",
    platform: "neutral",
    mainFields: ["module", "main"],
    write: false,
    logLevel: "silent",
    plugins: [moteExports(root), xsStubsPlugin(root)],
  });
  return result.outputFiles[0].text;
}

/**
 * "mote" and "mote/…" -> the sources of the mote that runs the simulator, by its
 * package.json "exports" ("default" condition): one copy of mote in the bundle,
 * also for an app inside mote's own tree (examples/) that has no node_modules/mote.
 */
function moteExports(root: string): Plugin {
  const table = exportTable(root);
  return {
    name: "mote-exports",
    setup(b) {
      b.onResolve({ filter: /^mote(\/[a-z/-]+)?$/ }, (args) => (table[args.path] === undefined ? undefined : { path: table[args.path] }));
    },
  };
}

function exportTable(root: string): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports?: Record<string, string | { default?: string }> };
  const out: Record<string, string> = {};
  for (const [key, target] of Object.entries(pkg.exports ?? {})) {
    const file = typeof target === "string" ? target : target.default;
    if (file === undefined || !file.endsWith(".ts")) continue;
    out[key === "." ? "mote" : `mote/${key.slice(2)}`] = join(root, file);
  }
  return out;
}

export interface AppSimulationOptions extends Omit<SimulationOptions, "bundle" | "ota"> {}

/**
 * The app at `entry` on one or more simulated devices with the embedded peers
 * (or `broker` / `coap`). State (preferences, flash) under `state`, default
 * `.state/sim` in the working directory.
 */
export async function startApp(entry: string, options: AppSimulationOptions = {}): Promise<Simulation> {
  const bundle = await bundleApp(entry);
  return startSimulation({
    observeSensor: false,
    state: join(process.cwd(), ".state", "sim"),
    ...options,
    bundle,
  });
}

export { startSimulation } from "./simulation.js";
export type { Simulation, SimulationOptions, SimulationFaults } from "./simulation.js";
export type { SimDeviceStatus } from "./device.js";
