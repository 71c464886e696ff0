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
    // (prefix, broker, credentials and the WiFi network are protected: they change only signed, test/xs/security.test.ts)
    await observer.publish(`mote/${id}/cmd/config`, JSON.stringify({ coapObserve: [`${sim.deviceCoapUrl}/sensor`], telemetryMs: 500, reboot: true }));
    await observer.until(() => observer.on(`mote/${id}/reply/config`).length > 0, "config reply");
    expect(observer.json(`mote/${id}/reply/config`)[0]).toMatchObject({
      ok: true,
      saved: ["coapObserve", "telemetryMs"],
      applied: ["telemetryMs"],
      pendingReboot: ["coapObserve"],
    });
    // Before going down it says so (retained), then comes back observing the new URI.
    await observer.until(() => observer.on(`mote/${id}/status`).some((m) => m.text === "offline"), "offline before reboot");
    await sim.waitFor((s) => s[0].boots === 2 && s[0].device?.healthy === true, 20_000);
    await observer.until(() => observer.on(`mote/${id}/coap/sensor`).length >= 1, "the configured observation after the reboot", 20_000);
    await observer.publish(`mote/${id}/cmd/ping`, '{"id":"after-reboot"}');
    await observer.until(() => observer.on(`mote/${id}/pong`).length > 0, "pong after reboot");
  });

  test("a power cut drops the connection without a word: the broker publishes the will; the device comes back", async () => {
    const before = observer.on(`mote/${id}/status`).length;
    await sim.faults.powerCut(500);
    await observer.until(
      () => observer.on(`mote/${id}/status`).slice(before).some((m) => m.text === "offline"),
      "will (offline) after the power cut",
    );
    await observer.until(
      () => observer.on(`mote/${id}/status`).slice(before).some((m) => m.text === "online"),
      "online after power returns",
      20_000,
    );
    const s = await sim.waitFor((s) => s[0].device?.healthy === true, 10_000);
    expect(s[0].boots).toBe(3);
  });
});
