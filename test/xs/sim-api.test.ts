/**
 * The simulator's programmatic API with a small fleet: each device has its own
 * radio, MAC-derived id and preferences; a fault aimed at one device leaves the
 * others alone.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Simulation } from "../../host-shim/sim/simulation.js";
import { Observer, simulate } from "./device-observer.js";

let sim: Simulation;
let observer: Observer;
let stateDir: string;

beforeAll(async () => {
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  stateDir = mkdtempSync(join(tmpdir(), "mote-fleet-"));
  sim = await simulate({ devices: 2, telemetryMs: 500, observeSensor: false, state: stateDir });
  observer = await Observer.connect(sim.brokerUrl, "#");
  await sim.waitFor((s) => s.every((d) => d.device?.healthy === true), 20_000);
}, 40_000);

afterAll(async () => {
  await observer?.close();
  await sim?.stop();
});

describe("startSimulation with two devices", () => {
  test("each device takes its client id from its own MAC", () => {
    const ids = sim.status().map((s) => s.device!.id);
    expect(ids).toEqual(["mote-026d6f000000", "mote-026d6f000001"]);
  });

  test("a WiFi drop aimed at one device drops only that one", async () => {
    const before = sim.status().map((s) => s.device!.counters.wifiDrops);
    sim.faults.wifiDrop(1000, 1);
    await sim.waitFor((s) => s[1].device!.counters.wifiDrops > before[1] && s[1].device!.healthy, 20_000);
    expect(sim.status()[0].device!.counters.wifiDrops).toBe(before[0]);
  });

  test("a config command persists in that device's own preferences only", async () => {
    const [a, b] = sim.status().map((s) => s.device!.id);
    await observer.publish(`mote/${b}/cmd/config`, JSON.stringify({ telemetryMs: 700 }));
    await observer.until(() => observer.on(`mote/${b}/reply/config`).length > 0, "config reply");
    const file = (id: string) => join(stateDir, id.slice(5), "preferences", "mote.json");
    expect(JSON.parse(readFileSync(file(b), "utf8"))).toEqual({ telemetryMs: 700 });
    expect(existsSync(file(a))).toBe(false);
  });
});
