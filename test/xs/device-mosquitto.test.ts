/**
 * XS tier against an independent broker: the device program on XS with
 * mosquitto (Debian's, persistence on) instead of the embedded aedes. Without
 * mosquitto the test is skipped with a printed reason — except under CI, where
 * startMosquitto throws and the test fails.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Simulation } from "../../host-shim/sim/simulation.js";
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { Observer, gaps, simulate } from "./device-observer.js";

const skip = mosquittoSkipReason();
let broker: Mosquitto;
let sim: Simulation;
let observer: Observer;
let base: string;

describe.skipIf(skip !== undefined)("the device program on XS against mosquitto", () => {
  beforeAll(async () => {
    broker = await startMosquitto();
    sim = await simulate({ broker: broker.url, telemetryMs: 250, observeSensor: false });
    observer = await Observer.connect(broker.url, "#");
    const [s] = await sim.waitFor((s) => s[0].device?.healthy === true, 20_000);
    base = `mote/${s.device!.id}`;
  }, 40_000);

  afterAll(async () => {
    await observer?.close();
    await sim?.stop();
    await broker?.close();
  });

  test("connects, says online (retained), publishes telemetry and answers ping", async () => {
    await observer.until(() => observer.on(`${base}/status`).some((m) => m.text === "online"), "online");
    await observer.until(() => observer.on(`${base}/telemetry`).length >= 3, "telemetry");
    await observer.publish(`${base}/cmd/ping`, JSON.stringify({ id: "m1", responseTopic: "test/m1" }));
    await observer.until(() => observer.on("test/m1").length > 0, "pong");
    expect(observer.json("test/m1")[0]).toMatchObject({ pong: true, id: "m1" });
  });

  test("mosquitto restarts: the device reconnects, resubscribes, and no QoS 1 telemetry is lost", async () => {
    const connects = sim.status()[0].device!.counters.mqttConnects;
    await broker.restart();
    await sim.waitFor((s) => s[0].device?.healthy === true && s[0].device.counters.mqttConnects > connects, 30_000);
    await observer.publish(`${base}/cmd/ping`, JSON.stringify({ id: "m2", responseTopic: "test/m2" }));
    await observer.until(() => observer.on("test/m2").length > 0, "pong after restart", 20_000);
    const last = sim.status()[0].device!.counters.telemetrySent;
    const seqs = () => observer.json<{ seq: number }>(`${base}/telemetry`).map((r) => r.seq);
    await observer.until(() => Math.max(...seqs()) >= last, `telemetry up to ${last}`, 20_000);
    expect(gaps([...new Set(seqs())].sort((a, b) => a - b))).toEqual([]);
    expect(sim.status()[0].device!.counters.msgsDropped).toBe(0);
  });
});
