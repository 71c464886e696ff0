/**
 * XS tier: faults mid-run. WiFi drops and broker restarts; the device reconnects,
 * resubscribes, and every QoS 1 telemetry record taken while offline arrives.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { Simulation } from "../../host-shim/sim/simulation.js";
import { Observer, gaps, simulate } from "./device-observer.js";

let sim: Simulation;
let observer: Observer;
let base: string;

// The device's own log, printed when a test fails, so a fault in CI can be read.
const deviceLog: string[] = [];

beforeAll(async () => {
  sim = await simulate({
    telemetryMs: 250,
    observeSensor: false,
    onLog: (_device, line) => {
      deviceLog.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
      if (deviceLog.length > 400) deviceLog.shift();
    },
  });
  observer = await Observer.connect(sim.brokerUrl, "#");
  const [s] = await sim.waitFor((s) => s[0].device?.healthy === true, 20_000);
  base = `mote/${s.device!.id}`;
  await observer.until(() => observer.on(`${base}/telemetry`).length >= 2, "telemetry");
}, 40_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === "fail") console.error(`device log (last ${Math.min(deviceLog.length, 120)} lines):\n${deviceLog.slice(-120).join("\n")}`);
});

afterAll(async () => {
  await observer?.close();
  await sim?.stop();
});

function seqs(): number[] {
  return observer.json<{ seq: number }>(`${base}/telemetry`).map((r) => r.seq);
}

async function pingAnswered(tag: string): Promise<void> {
  await observer.publish(`${base}/cmd/ping`, JSON.stringify({ id: tag, responseTopic: `test/${tag}` }));
  await observer.until(() => observer.on(`test/${tag}`).length > 0, `pong ${tag}`, 20_000);
}

describe("faults on XS", () => {
  test("a WiFi drop: the device reports it, rejoins, reconnects, and no telemetry is lost", async () => {
    const sent = sim.status()[0].device!.counters.telemetrySent;
    const connects = sim.status()[0].device!.counters.mqttConnects;
    sim.faults.wifiDrop(1500);
    await sim.waitFor((s) => s[0].device?.wifi.state !== "up", 5000);
    const down = await sim.waitFor((s) => s[0].device?.healthy === true && s[0].device.counters.wifiDrops >= 1, 20_000);
    expect(down[0].device!.counters.wifiDrops).toBe(1);
    // Losing the network took the broker connection with it: it was made again.
    await sim.waitFor((s) => s[0].device!.counters.mqttConnects > connects && s[0].device!.mqtt.state === "connected", 20_000);
    await pingAnswered("after-wifi");
    const last = sim.status()[0].device!.counters.telemetrySent;
    expect(last).toBeGreaterThan(sent);
    await observer.until(() => seqs().length > 0 && seqs()[seqs().length - 1] >= last, `telemetry up to ${last}`, 20_000);
    expect(gaps(seqs())).toEqual([]);
  });

  test("a broker restart: the device reconnects, resubscribes, and the records queued offline arrive", async () => {
    const connects = sim.status()[0].device!.counters.mqttConnects;
    await sim.faults.brokerRestart(1500);
    const s = await sim.waitFor((s) => s[0].device?.healthy === true && s[0].device.counters.mqttConnects > connects, 20_000);
    expect(s[0].device!.counters.msgsDropped).toBe(0);
    await pingAnswered("after-restart"); // commands reach it again: subscribed
    const last = sim.status()[0].device!.counters.telemetrySent;
    await observer.until(() => seqs()[seqs().length - 1] >= last, `telemetry up to ${last}`, 20_000);
    expect(gaps(seqs())).toEqual([]);
    expect(new Set(seqs()).size).toBeGreaterThanOrEqual(last - 1); // QoS 1 may duplicate, never lose
  });
});

describe("loss on XS", () => {
  test("with 30% loss on its links the device stays connected and QoS 1 telemetry still all arrives", async () => {
    const from = sim.status()[0].device!.counters.telemetrySent;
    sim.faults.loss(0.3);
    try {
      await sim.waitFor((s) => s[0].device!.counters.telemetrySent >= from + 8, 20_000);
      await pingAnswered("under-loss");
    } finally {
      sim.faults.loss(0);
    }
    const last = sim.status()[0].device!.counters.telemetrySent;
    await observer.until(() => seqs()[seqs().length - 1] >= last, `telemetry up to ${last}`, 20_000);
    expect(gaps(seqs())).toEqual([]);
    expect(sim.status()[0].device!.counters.msgsDropped).toBe(0);
  });
});
