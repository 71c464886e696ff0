/**
 * XS tier: the simulator shows what hardware would. A device whose broker is
 * not there meets a refused connection, says so in its status, and its status
 * line agrees; its MQTT link never comes up while its station has no address
 * (test/xs/device-faults.test.ts checks that order in the log across a drop).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Simulation } from "../../host-shim/sim/simulation.js";
import { statusLine } from "../../host-shim/sim/display.js";
import { freePort } from "../helpers/mosquitto.js";
import { simulate } from "./device-observer.js";

const WAIT = 60_000;
let sim: Simulation;
const log: string[] = [];

beforeAll(async () => {
  const dead = await freePort(); // nothing listens there
  sim = await simulate({ broker: `mqtt://127.0.0.1:${dead}`, telemetryMs: 250, observeSensor: false, onLog: (_d, line) => log.push(line) });
}, 2 * WAIT);

afterAll(async () => {
  await sim?.stop();
});

test("a broker that is not there: the device sees its connection refused and says so; nothing counts as out", async () => {
  const [s] = await sim.waitFor((s) => s[0].device?.mqtt.reason === "refused" && s[0].device.counters.telemetrySent >= 2, WAIT);
  expect(s.device!.wifi.state).toBe("up");
  expect(s.device!.mqtt.state).toBe("offline");
  expect(s.device!.counters.mqttConnects).toBe(0);
  expect(statusLine(s)).toContain("mqtt offline(refused)");
  // the records are queued (q), not out: `out` counts what the broker acknowledged
  expect(s.device!.counters.msgsOut).toBe(0);
  expect(s.device!.queueDepth).toBeGreaterThanOrEqual(2);
  expect(statusLine(s)).toContain(" out 0 ");
  expect(log.some((l) => /mqtt connected/.test(l))).toBe(false);
}, 2 * WAIT);
