/**
 * Moddable tier: the device program built by the real `mcconfig -m -i -p lin`
 * from manifest.json (mote preloaded, boards/desktop) and run headless on
 * Moddable's own XS runtime, against mosquitto and libcoap's coap-server:
 * boot, retained status, QoS 1 telemetry, commands at QoS 0 and 1, CoAP GET,
 * Observe and Block2 through the `coap` command, configuration kept in
 * preferences across a commanded reboot, and a power cut.
 *
 * Needs the Moddable SDK (host-shim/moddable/sdk.ts): under CI its absence
 * fails the tier; elsewhere it is skipped with the reason printed.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildModdable } from "../../host-shim/moddable/build.js";
import { ModdableDevice, writePreferences } from "../../host-shim/moddable/run.js";
import { findModdable, moddableMissing, type ModdableSdk } from "../../host-shim/moddable/sdk.js";
import { libcoapMissing, runLibcoapClient, startLibcoapServer, type LibcoapServer } from "../helpers/libcoap.js";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";

const skip = moddableMissing() ?? libcoapMissing();
const ID = "lin-dev-1";

interface Message {
  topic: string;
  text: string;
  qos: number;
  retain: boolean;
}

describe.skipIf(skip !== undefined)("the device program on Moddable's runtime (mcconfig -p lin)", () => {
  let sdk: ModdableSdk;
  let broker: Mosquitto;
  let coap: LibcoapServer;
  let observer: MqttClient;
  let device: ModdableDevice;
  let dir: string;
  const messages: Message[] = [];
  const waiters = new Set<{ match: (m: Message) => boolean; resolve: (m: Message) => void }>();

  function next(match: (m: Message) => boolean, timeoutMs = 15_000, from = 0): Promise<Message> {
    const seen = messages.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { match, resolve: (m: Message) => (clearTimeout(t), resolve(m)) };
      const t = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`no matching message in ${timeoutMs} ms; device said:\n${device.lines.slice(-30).join("\n")}`));
      }, timeoutMs);
      waiters.add(w);
    });
  }
  const topic = (rest: string) => `mote/${ID}/${rest}`;
  const json = (m: Message) => JSON.parse(m.text) as Record<string, unknown>;

  beforeAll(async () => {
    sdk = findModdable() as ModdableSdk;
    const so = await buildModdable("device", sdk);
    broker = await startMosquitto();
    coap = await startLibcoapServer();
    observer = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, protocolVersion: 5, clientId: "lin-observer", reconnectPeriod: 0 });
    observer.on("message", (t, payload, packet) => {
      const m = { topic: t, text: payload.toString("utf8"), qos: packet.qos, retain: packet.retain };
      messages.push(m);
      for (const w of waiters)
        if (w.match(m)) {
          waiters.delete(w);
          w.resolve(m);
        }
    });
    await observer.subscribeAsync(`mote/${ID}/#`, { qos: 1 });
    dir = mkdtempSync(join(tmpdir(), "mote-lin-device-"));
    writePreferences(dir, {
      mote: { ssid: "lab", password: "secret-pass", broker: `mqtt://127.0.0.1:${broker.port}`, clientId: ID, telemetryMs: 400 },
    });
    device = new ModdableDevice(so, sdk, dir, { onLine: process.env.MOTE_LOG ? (l) => console.log(`[lin] ${l}`) : undefined });
    device.start();
  }, 240_000);

  afterAll(async () => {
    await device?.stop();
    await observer?.endAsync();
    await coap?.stop();
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("boots from flash-preloaded code, joins WiFi and the broker, says online (retained) and sends QoS 1 telemetry", async () => {
    await device.waitFor(/mqtt connected/, 20_000);
    const online = await next((m) => m.topic === topic("status") && m.text === "online");
    expect(online.text).toBe("online");
    const t = await next((m) => m.topic === topic("telemetry"));
    expect(t.qos).toBe(1);
    const record = json(t);
    expect(record.boot).toBe(1);
    expect(record.seq).toEqual(expect.any(Number));
    // A late subscriber sees the retained status.
    const late = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, clientId: "lin-late", reconnectPeriod: 0 });
    const retained = await new Promise<{ text: string; retain: boolean }>((resolve) => {
      late.on("message", (_t, p, packet) => resolve({ text: p.toString(), retain: packet.retain }));
      void late.subscribeAsync(topic("status"));
    });
    await late.endAsync();
    expect(retained).toEqual({ text: "online", retain: true });
  }, 30_000);

  test("answers ping sent at QoS 0 and at QoS 1, with the XS heap Moddable's instrumentation reports", async () => {
    for (const qos of [0, 1] as const) {
      const from = messages.length;
      await observer.publishAsync(topic("cmd/ping"), JSON.stringify({ id: `q${qos}` }), { qos });
      const pong = json(await next((m) => m.topic === topic("pong") && (JSON.parse(m.text) as { id?: string }).id === `q${qos}`, 10_000, from));
      expect(pong.pong).toBe(true);
      const xs = pong.xs as { slots: number; chunks: number; stack: number };
      expect(xs.slots).toBeGreaterThan(0);
      expect(xs.chunks).toBeGreaterThan(0);
      expect(xs.stack).toBeGreaterThan(0);
    }
  }, 30_000);

  test("a bad command is refused with its code on the error topic, and the device keeps working", async () => {
    const from = messages.length;
    await observer.publishAsync(topic("cmd/ping"), "{not json", { qos: 1 });
    const err = json(await next((m) => m.topic === topic("error"), 10_000, from));
    expect(err.code).toBe("bad-json");
    await observer.publishAsync(topic("cmd/ping"), JSON.stringify({ id: "after" }), { qos: 1 });
    await next((m) => m.topic === topic("pong") && m.text.includes('"after"'), 10_000, from);
  }, 30_000);

  test("CoAP through the coap command: GET, Observe and a Block2 download from libcoap", async () => {
    const uri = `${coap.url}/time`;
    let from = messages.length;
    await observer.publishAsync(topic("cmd/coap"), JSON.stringify({ uri }), { qos: 1 });
    const got = json(await next((m) => m.topic.startsWith(topic("coap/")) && m.text.includes('"code"'), 15_000, from));
    expect(got.uri).toBe(uri);
    expect(got.code).toBe("2.05");

    // Block1 up with libcoap's own client, then Block2 down by the device.
    const body = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");
    const file = join(dir, "big.txt");
    writeFileSync(file, body);
    const put = await runLibcoapClient(["-m", "put", "-b", "256", "-f", file, `${coap.url}/mote-big`]);
    expect(put.code).toBe(0);
    from = messages.length;
    await observer.publishAsync(topic("cmd/coap"), JSON.stringify({ uri: `${coap.url}/mote-big` }), { qos: 1 });
    const big = json(await next((m) => m.topic === topic("coap/mote-big"), 15_000, from));
    expect(big.code).toBe("2.05");
    expect(big.payload).toBe(body);

    from = messages.length;
    await observer.publishAsync(topic("cmd/coap"), JSON.stringify({ uri, observe: true }), { qos: 1 });
    const first = await next((m) => m.topic === topic("coap/time") && typeof JSON.parse(m.text).observe === "number", 15_000, from);
    const second = await next((m) => m.topic === topic("coap/time") && m !== first && typeof JSON.parse(m.text).observe === "number", 15_000, messages.indexOf(first) + 1);
    expect(json(second).observe).not.toBe(json(first).observe);
  }, 60_000);

  test("configuration saved by command survives a commanded reboot (preferences), and the next boot is counted", async () => {
    let from = messages.length;
    await observer.publishAsync(topic("cmd/config"), JSON.stringify({ telemetryMs: 700 }), { qos: 1 });
    const reply = json(await next((m) => m.topic === topic("reply/config"), 10_000, from));
    expect(reply).toMatchObject({ ok: true, saved: ["telemetryMs"] });
    from = messages.length;
    const mark = device.mark;
    await observer.publishAsync(topic("cmd/reboot"), "{}", { qos: 1 });
    await next((m) => m.topic === topic("reply/reboot"), 10_000, from);
    await device.waitFor(/\[host\] exit 75/, 15_000, mark);
    const start = await device.waitFor(/app: starting/, 15_000, mark);
    expect(start).toContain('"telemetryMs":700');
    const t = await next((m) => m.topic === topic("telemetry") && json(m).boot === 2, 20_000, from);
    expect(json(t).boot).toBe(2);
    expect(device.boots).toBe(2);
  }, 60_000);

  test("after a power cut (SIGKILL) it boots again and carries on: boot 3, online, telemetry", async () => {
    const from = messages.length;
    await device.powerCut();
    const t = await next((m) => m.topic === topic("telemetry") && json(m).boot === 3, 30_000, from);
    expect(json(t).seq).toEqual(expect.any(Number));
    expect(device.exits).toContain(137);
  }, 45_000);

  test("no boot threw an exception or aborted (a read-only preloaded object shows up here first)", () => {
    // an instrumented build (-i) traces every thrown exception, caught or not: a clean run traces none
    expect(device.lines.filter((l) => /^(Exception |XS abort|mchost: abort)/.test(l))).toEqual([]);
  });
});
