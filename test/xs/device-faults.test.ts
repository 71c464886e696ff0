/**
 * XS tier: faults mid-run. WiFi drops and broker restarts; the device reconnects,
 * resubscribes, and every QoS 1 telemetry record taken while offline arrives.
 *
 * Deterministic under load: every wait is on a state that, once reached, stays
 * (monotonic counters, a healthy device, messages seen) or on the device's own
 * log — never on a transient state caught by polling, never on a sleep. The
 * bounds are generous; how fast it reconnects is measured in bench/ (device group).
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { Simulation } from "../../host-shim/sim/simulation.js";
import { Observer, gaps, simulate } from "./device-observer.js";

let sim: Simulation;
let observer: Observer;
let base: string;

// The device's own log, printed when a test fails, so a fault in CI can be read.
const deviceLog: string[] = [];
/** Every line of the device's log, in order (the deviceLog above keeps the last 400). */
const fullLog: string[] = [];
const WAIT = 60_000;

beforeAll(async () => {
  sim = await simulate({
    // One record a second: a WiFi outage lasts as long as the station's rejoin
    // backoff (seconds), and the link holds what one session record fits (5 KB).
    telemetryMs: 1000,
    observeSensor: false,
    onLog: (_device, line) => {
      fullLog.push(line);
      deviceLog.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
      if (deviceLog.length > 400) deviceLog.shift();
    },
  });
  observer = await Observer.connect(sim.brokerUrl, "#");
  const [s] = await sim.waitFor((s) => s[0].device?.healthy === true, WAIT);
  base = `mote/${s.device!.id}`;
  await observer.until(() => observer.on(`${base}/telemetry`).length >= 2, "telemetry", WAIT);
}, 3 * WAIT);

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
  await observer.until(() => observer.on(`test/${tag}`).length > 0, `pong ${tag}`, WAIT);
}

describe("faults on XS", () => {
  test("a WiFi drop: the device reports it, rejoins, reconnects, and no telemetry is lost", async () => {
    const sent = sim.status()[0].device!.counters.telemetrySent;
    const dropped = sim.status()[0].device!.counters.msgsDropped;
    const connects = sim.status()[0].device!.counters.mqttConnects;
    const from = fullLog.length;
    sim.faults.wifiDrop(1500);
    // Losing the network took the broker connection with it: it was made again.
    const back = await sim.waitFor(
      (s) => s[0].device?.healthy === true && s[0].device.counters.wifiDrops >= 1 && s[0].device.counters.mqttConnects > connects,
      WAIT,
    );
    expect(back[0].device!.counters.wifiDrops).toBe(1);
    // The log tells the same story, in an order hardware allows: the broker
    // connection is made again only once the station has its address back.
    const story = fullLog
      .slice(from)
      .map((l) => (/wifi down/.test(l) ? "wifi down" : /wifi up/.test(l) ? "wifi up" : /mqtt connected/.test(l) ? "mqtt connected" : ""))
      .filter((l) => l !== "");
    expect(story[0]).toBe("wifi down");
    let wifiUp = false;
    for (const event of story) {
      if (event === "wifi down") wifiUp = false;
      if (event === "wifi up") wifiUp = true;
      if (event === "mqtt connected") expect(wifiUp, `mqtt connected while wifi is down: ${story.join(" → ")}`).toBe(true);
    }
    expect(story).toContain("mqtt connected");
    await pingAnswered("after-wifi");
    const last = sim.status()[0].device!.counters.telemetrySent;
    expect(last).toBeGreaterThan(sent);
    await observer.until(() => seqs().length > 0 && seqs()[seqs().length - 1] >= last, `telemetry up to ${last}`, WAIT);
    expect(sim.status()[0].device!.counters.msgsDropped - dropped).toBe(0);
    expect(gaps(seqs())).toEqual([]);
  }, 4 * WAIT);

  test("a broker restart: the device reconnects, resubscribes, and the records queued offline arrive", async () => {
    const connects = sim.status()[0].device!.counters.mqttConnects;
    await sim.faults.brokerRestart(1500);
    const s = await sim.waitFor((s) => s[0].device?.healthy === true && s[0].device.counters.mqttConnects > connects, WAIT);
    expect(s[0].device!.counters.msgsDropped).toBe(0);
    await pingAnswered("after-restart"); // commands reach it again: subscribed
    const last = sim.status()[0].device!.counters.telemetrySent;
    await observer.until(() => seqs()[seqs().length - 1] >= last, `telemetry up to ${last}`, WAIT);
    expect(gaps(seqs())).toEqual([]);
    expect(new Set(seqs()).size).toBeGreaterThanOrEqual(last - 1); // QoS 1 may duplicate, never lose
  }, 4 * WAIT);
});

describe("loss on XS", () => {
  test("with 30% loss on its links the device stays connected and QoS 1 telemetry still all arrives", async () => {
    const from = sim.status()[0].device!.counters.telemetrySent;
    sim.faults.loss(0.3);
    try {
      await sim.waitFor((s) => s[0].device!.counters.telemetrySent >= from + 8, WAIT);
      await pingAnswered("under-loss");
    } finally {
      sim.faults.loss(0);
    }
    const last = sim.status()[0].device!.counters.telemetrySent;
    await observer.until(() => seqs()[seqs().length - 1] >= last, `telemetry up to ${last}`, WAIT);
    expect(gaps(seqs())).toEqual([]);
    expect(sim.status()[0].device!.counters.msgsDropped).toBe(0);
  }, 4 * WAIT);
});
