/**
 * The app in the simulator (mote/sim: the app on the XS engine, with an
 * embedded MQTT broker and CoAP server), checked from outside as any MQTT
 * client sees it: online, telemetry carrying the CoAP sensor, a ping answered.
 */
import mqtt from "mqtt";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startApp, type Simulation } from "mote/sim";

let sim: Simulation;
let observer: mqtt.MqttClient;
const seen: { topic: string; text: string }[] = [];

function next(match: (m: { topic: string; text: string }) => boolean, timeoutMs = 20_000): Promise<{ topic: string; text: string }> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const m = seen.find(match);
      if (m) resolve(m);
      else if (Date.now() > deadline) reject(new Error(`not seen in ${timeoutMs} ms; seen: ${JSON.stringify(seen.slice(-5))}`));
      else setTimeout(poll, 50);
    };
    poll();
  });
}

beforeAll(async () => {
  sim = await startApp("src/main.ts", { config: { clientId: "test-1", telemetryMs: 300 } });
  observer = await mqtt.connectAsync(sim.brokerUrl, { clientId: "observer", reconnectPeriod: 0 });
  observer.on("message", (topic, payload) => seen.push({ topic, text: payload.toString() }));
  await observer.subscribeAsync("app/test-1/#", { qos: 1 });
}, 60_000);

afterAll(async () => {
  await observer?.endAsync();
  await sim?.stop();
});

test("says online, retained", async () => {
  const m = await next((m) => m.topic === "app/test-1/status");
  expect(m.text).toBe("online");
}, 30_000);

test("publishes telemetry with the value read from the CoAP sensor", async () => {
  const m = await next((m) => m.topic === "app/test-1/telemetry" && JSON.parse(m.text).sensor !== undefined);
  const t = JSON.parse(m.text) as { seq: number; sensor: string };
  expect(t.seq).toBeGreaterThan(0);
  expect(t.sensor).toMatch(/\d/);
}, 30_000);

test("answers a ping command with the same payload", async () => {
  await observer.publishAsync("app/test-1/cmd/ping", "hello 42", { qos: 1 });
  const m = await next((m) => m.topic === "app/test-1/pong");
  expect(m.text).toBe("hello 42");
}, 30_000);
