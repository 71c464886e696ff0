/**
 * XS tier: a wrong WiFi password gives a clear status and a slow, bounded retry —
 * no crash loop, no reboot, no broker connection.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Simulation } from "../../host-shim/sim/simulation.js";
import { simulate } from "./device-observer.js";

let sim: Simulation;

beforeAll(async () => {
  sim = await simulate({ devicePassword: "not-the-password", observeSensor: false });
}, 40_000);

afterAll(async () => {
  await sim?.stop();
});

describe("wrong WiFi password on XS", () => {
  test("the status says wrong-password, retries back off, the program never restarts", async () => {
    const [s] = await sim.waitFor((s) => s[0].device?.parts.wifi?.lastError === "wrong-password", 15_000);
    expect(s.device!.healthy).toBe(false);
    expect(s.device!.mqtt.state).toBe("waiting-wifi");
    await new Promise((r) => setTimeout(r, 3000));
    await sim.poll();
    const after = sim.status()[0];
    expect(after.boots).toBe(1); // no crash, no reboot loop
    expect(after.state).toBe("running");
    // 1 s base doubling with jitter: a handful of attempts in ~4 s, not hundreds
    expect(after.device!.parts.wifi.restarts).toBeGreaterThanOrEqual(2);
    expect(after.device!.parts.wifi.restarts).toBeLessThanOrEqual(10);
    expect(sim.peers.broker!.clients).toBe(0);
  });
});
