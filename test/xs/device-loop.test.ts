/**
 * XS tier: the whole device program (src/app/main.ts bundled for XS) on the real
 * XS engine, with simulated WiFi and preferences, against the embedded aedes
 * broker and CoAP server; the broker side is watched with MQTT.js.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Simulation } from "../../host-shim/sim/simulation.js";
import { Observer, gaps, simulate } from "./device-observer.js";

let sim: Simulation;
let observer: Observer;
let id: string;
let base: string;

beforeAll(async () => {
  sim = await simulate({ telemetryMs: 300 });
  observer = await Observer.connect(sim.brokerUrl, "#");
  const [s] = await sim.waitFor((s) => s[0].device?.healthy === true, 20_000);
  id = s.device!.id;
  base = `mote/${id}`;
}, 40_000);

afterAll(async () => {
  await observer?.close();
  await sim?.stop();
});

describe("the device program on XS", () => {
  test("boots, joins WiFi, connects and announces itself online with a retained status", async () => {
    expect(id).toMatch(/^mote-026d6f[0-9a-f]{6}$/);
    const status = sim.status()[0];
    expect(status.device).toMatchObject({ healthy: true, wifi: { state: "up" }, mqtt: { state: "connected" } });
    await observer.until(() => observer.on(`${base}/status`).some((m) => m.text === "online"), "online");
    // A late subscriber still learns the device is online: the status is retained.
    const late = await Observer.connect(sim.brokerUrl, `${base}/status`);
    try {
      await late.until(() => late.seen.length > 0, "retained status");
      expect(late.seen[0]).toMatchObject({ text: "online", retain: true });
    } finally {
      await late.close();
    }
  });

  test("publishes telemetry on its schedule as QoS 1 records with consecutive sequence numbers", async () => {
    await observer.until(() => observer.on(`${base}/telemetry`).length >= 4, "4 telemetry records");
    const records = observer.json<Record<string, any>>(`${base}/telemetry`);
    const seqs = records.map((r) => r.seq as number);
    expect(gaps(seqs)).toEqual([]);
    expect(observer.on(`${base}/telemetry`).every((m) => m.qos === 1)).toBe(true);
    const r = records[records.length - 1];
    expect(r).toHaveProperty("uptimeMs");
    expect(r.counters.msgsOut).toBeGreaterThan(0);
    expect(typeof r.rssi).toBe("number");
    expect(typeof r.sensor.demo).toBe("number");
    // The schedule is fixed (slots one period apart, no drift), so a record sent late
    // is followed by one on its slot: consecutive records are more than half a period
    // apart, never two per period, and on average a whole period.
    for (let i = 1; i < records.length; i++) expect(records[i].uptimeMs - records[i - 1].uptimeMs).toBeGreaterThan(150);
    const span = records[records.length - 1].uptimeMs - records[0].uptimeMs;
    expect(span / (records.length - 1)).toBeGreaterThanOrEqual(250);
  });

  test("answers ping on the response topic it names, and on pong by default", async () => {
    await observer.publish(`${base}/cmd/ping`, JSON.stringify({ id: 42, responseTopic: "test/replies/ping" }));
    await observer.publish(`${base}/cmd/ping`, "");
    await observer.until(() => observer.on("test/replies/ping").length > 0 && observer.on(`${base}/pong`).length > 0, "pongs");
    expect(observer.json("test/replies/ping")[0]).toMatchObject({ pong: true, id: 42 });
    expect(observer.json(`${base}/pong`)[0]).toMatchObject({ pong: true });
  });

  test("a malformed command is refused with a code on the error topic and the loop carries on", async () => {
    await observer.publish(`${base}/cmd/config`, '{"telemetryMs": "often"}');
    await observer.publish(`${base}/cmd/launch`, "{}");
    await observer.until(() => observer.on(`${base}/error`).length >= 2, "two errors");
    expect(observer.json<{ code: string }>(`${base}/error`).map((e) => e.code)).toEqual(["invalid-value", "unknown-command"]);
    const before = observer.on(`${base}/telemetry`).length;
    await observer.until(() => observer.on(`${base}/telemetry`).length > before, "more telemetry");
    expect(sim.healthy()).toBe(true);
  });

  test("forwards notifications of the observed CoAP /sensor to its coap topic", async () => {
    await observer.until(() => observer.on(`${base}/coap/sensor`).length >= 2, "2 sensor notifications");
    for (const m of observer.on(`${base}/coap/sensor`)) expect(Number(m.text)).toBeGreaterThan(10);
  });

  test("the coap command fetches a block-wise resource and publishes it whole", { timeout: 40_000 }, async () => {
    await observer.publish(`${base}/cmd/coap`, JSON.stringify({ uri: `${sim.deviceCoapUrl}/large`, responseTopic: "test/large" }));
    await observer.until(() => observer.on("test/large").length > 0, "coap result", 30_000);
    const r = observer.json<{ code: string; payload: string }>("test/large")[0];
    expect(r.code).toBe("2.05");
    expect(r.payload.length).toBe(sim.peers.coap!.large.length);
  });
});
