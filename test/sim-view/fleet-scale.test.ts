/**
 * A modest fleet on the fleet XS worker (host-shim/xs/xsnap-lite.ts): 20
 * simulated devices boot, each its own XS machine with its own identity, and
 * all come online on the embedded broker. The 200-device run and its memory
 * and boot figures are in bench/fleet.ts (npm run bench -- fleet).
 * The worker is built here first if it is not yet (needs make and cc).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulation, type Simulation } from "../../host-shim/sim/simulation.js";
import { ensureLiteXsnap, patchWorkerSource } from "../../host-shim/xs/xsnap-lite.js";
import { hostMemory } from "../../host-shim/sim/memory.js";

const DEVICES = 20;

/** Command lines of this process's children (Linux /proc). */
function childCommands(): string[] {
  const out: string[] = [];
  for (const tid of readdirSync(`/proc/${process.pid}/task`)) {
    const kids = readFileSync(`/proc/${process.pid}/task/${tid}/children`, "utf8").trim();
    for (const k of kids === "" ? [] : kids.split(/\s+/)) {
      try {
        out.push(readFileSync(`/proc/${k}/cmdline`, "utf8").replace(/\0/g, " ").trim());
      } catch {
        // gone meanwhile
      }
    }
  }
  return out;
}

describe("the fleet worker's source patch", () => {
  test("changes the four creation sizes and trims the C heap after an evaluated script", () => {
    const src = readFileSync(join("node_modules", "@agoric", "xsnap", "xsnap-native", "xsnap", "sources", "xsnap-worker.c"), "utf8");
    const out = patchWorkerSource(src);
    expect(out).toMatch(/\b1048576,\s*\/\* initialChunkSize \*\//);
    expect(out).toMatch(/\b32768,\s*\/\* initialHeapCount \*\//);
    expect(out).toContain("#include <malloc.h>");
    expect(out.indexOf("malloc_trim(0)")).toBeGreaterThan(out.indexOf("case 'e':"));
    expect(() => patchWorkerSource("int main() {}")).toThrow(/xsnap-lite-patch/);
  });
});

describe(`a fleet of ${DEVICES} simulated devices on the fleet XS worker`, () => {
  let sim: Simulation;
  let state: string;
  let worker: string;

  beforeAll(async () => {
    worker = await ensureLiteXsnap();
    state = mkdtempSync(join(tmpdir(), "mote-fleet-"));
    sim = await startSimulation({ devices: DEVICES, engine: "lite", state, telemetryMs: 2000, observeSensor: false, pollMs: 2000, fleet: `scale-${process.pid}` });
  }, 900_000);

  afterAll(async () => {
    await sim?.stop();
    if (state !== undefined) rmSync(state, { recursive: true, force: true });
  });

  test("every device comes online, each with its own id, and sends telemetry", async () => {
    const status = await sim.waitFor((s) => s.every((d) => d.device?.healthy === true && d.device.counters.telemetrySent > 0), 300_000);
    expect(status).toHaveLength(DEVICES);
    expect(new Set(status.map((s) => s.device!.id)).size).toBe(DEVICES);
    // one XS machine per device: a worker process each, the fleet build
    expect(hostMemory().children).toBeGreaterThanOrEqual(DEVICES);
    expect(childCommands().filter((c) => c.startsWith(worker))).toHaveLength(DEVICES);
  }, 320_000);

  test("a device's power cut reboots that device alone, and it comes back", async () => {
    await sim.faults.powerCut(500, 7);
    const status = await sim.waitFor((s) => s[7].boots === 2 && s.every((d) => d.device?.healthy === true), 120_000);
    expect(status.filter((s) => s.boots === 1)).toHaveLength(DEVICES - 1);
  }, 130_000);
});
