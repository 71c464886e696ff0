/**
 * XS tier: configuration persisted across a reboot, and a power cut (will
 * published by the broker, device back online).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Simulation } from "../../host-shim/sim/simulation.js";
import { Observer, simulate } from "./device-observer.js";

let sim: Simulation;
let observer: Observer;
let id: string;

beforeAll(async () => {
  sim = await simulate({ telemetryMs: 2000, observeSensor: false });
  observer = await Observer.connect(sim.brokerUrl, "#");
  const [s] = await sim.waitFor((s) => s[0].device?.healthy === true, 20_000);
  id = s.device!.id;
}, 40_000);

afterAll(async () => {
  await observer?.close();
  await sim?.stop();
});

describe("reboots on XS", () => {
  test("a config change is saved, the device reboots, and the next boot uses it", async () => {
    await observer.publish(`mote/${id}/cmd/config`, JSON.stringify({ prefix: "lab", telemetryMs: 500, reboot: true }));
    await observer.until(() => observer.on(`mote/${id}/reply/config`).length > 0, "config reply");
    expect(observer.json(`mote/${id}/reply/config`)[0]).toMatchObject({
      ok: true,
      saved: ["prefix", "telemetryMs"],
      applied: ["telemetryMs"],
      pendingReboot: ["prefix"],
    });
    // Before going down it says so (retained), then comes back under the new prefix.
    await observer.until(() => observer.on(`mote/${id}/status`).some((m) => m.text === "offline"), "offline before reboot");
    await observer.until(() => observer.on(`lab/${id}/status`).some((m) => m.text === "online"), "online under the new prefix", 20_000);
    await sim.waitFor((s) => s[0].boots === 2 && s[0].device?.healthy === true, 10_000);
    await observer.until(() => observer.on(`lab/${id}/telemetry`).length >= 2, "telemetry under the new prefix");
    await observer.publish(`lab/${id}/cmd/ping`, '{"id":"after-reboot"}');
    await observer.until(() => observer.on(`lab/${id}/pong`).length > 0, "pong after reboot");
  });

  test("a power cut drops the connection without a word: the broker publishes the will; the device comes back", async () => {
    const before = observer.on(`lab/${id}/status`).length;
    await sim.faults.powerCut(500);
    await observer.until(
      () => observer.on(`lab/${id}/status`).slice(before).some((m) => m.text === "offline"),
      "will (offline) after the power cut",
    );
    await observer.until(
      () => observer.on(`lab/${id}/status`).slice(before).some((m) => m.text === "online"),
      "online after power returns",
      20_000,
    );
    const s = await sim.waitFor((s) => s[0].device?.healthy === true, 10_000);
    expect(s[0].boots).toBe(3);
  });
});
