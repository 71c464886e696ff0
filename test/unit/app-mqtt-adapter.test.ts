/**
 * The device program's MQTT link (src/app/adapters/mqtt.ts) with its session
 * store (finding F5): no broker listens, so every QoS 1 publish waits in the
 * session, which the link keeps in the preferences; a second link ("after a
 * reboot") finds it there. The link refuses what one store record cannot hold.
 */
import { createServer } from "node:net";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { describe, expect, test } from "vitest";
import { mqttConnector, SESSION_DOMAIN } from "../../src/app/adapters/mqtt.js";
import type { MqttLink, MqttLinkEvent, MqttLinkOptions } from "../../src/app/ports.js";
import { PreferenceSessionStore, type PreferenceApi } from "../../src/mqtt/store.js";
import { countBoot } from "../../src/app/program.js";
import { FakePreferences } from "../helpers/fake-preferences.js";


/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

function linkOptions(port: number, clientId = "mote-0123456789ab"): MqttLinkOptions {
  return {
    host: "127.0.0.1",
    port,
    tls: false,
    clientId,
    keepAliveS: 60,
    will: { topic: `mote/${clientId}/status`, payload: new TextEncoder().encode("offline"), qos: 1, retain: true },
    cleanSession: false,
  };
}

const record = (seq: number) => new TextEncoder().encode(JSON.stringify({ boot: 1, seq, pad: "x".repeat(260) })); // ~ a telemetry record

describe("device MQTT link: session kept in the preferences", () => {
  test("QoS 1 messages taken offline are in the store, and the next link (after a reboot) holds them", async () => {
    const prefs = new FakePreferences();
    const port = await deadPort();
    const connector = mqttConnector({ session: { prefs }, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    const link1: MqttLink = connector(linkOptions(port), () => undefined);
    for (let seq = 1; seq <= 5; seq++) expect(link1.publish("mote/mote-0123456789ab/telemetry", record(seq), { qos: 1 })).toBe(true);
    expect(link1.queueDepth).toBe(5);
    link1.end();
    const stored = new PreferenceSessionStore(prefs, SESSION_DOMAIN, { maxBytes: 5120, chunkBytes: 1024 }).load()!;
    const held = [...stored.outgoing.map((o) => o.packet), ...stored.queued];
    expect(held.map((p) => JSON.parse(new TextDecoder().decode(p.payload)).seq)).toEqual([1, 2, 3, 4, 5]);
    // "reboot": a new link from the same preferences, before any connect
    const link2 = mqttConnector({ session: { prefs }, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } })(linkOptions(port), () => undefined);
    expect(link2.queueDepth).toBe(5);
    link2.end();
  });

  test("the link refuses a QoS 1 message one store record cannot hold, so whatever it accepted survives a power cut", async () => {
    const prefs = new FakePreferences();
    const port = await deadPort();
    const link = mqttConnector({ session: { prefs, maxBytes: 2048 }, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } })(
      linkOptions(port),
      () => undefined,
    );
    let accepted = 0;
    for (let seq = 1; seq <= 20; seq++) if (link.publish("mote/mote-0123456789ab/telemetry", record(seq), { qos: 1 })) accepted++;
    expect(accepted).toBeGreaterThan(3);
    expect(accepted).toBeLessThan(20);
    // a QoS 0 message is not held, so not refused
    expect(link.publish("mote/mote-0123456789ab/coap/x", new Uint8Array(10), { qos: 0 })).toBe(true);
    link.end();
    const stored = new PreferenceSessionStore(prefs, SESSION_DOMAIN, { maxBytes: 2048, chunkBytes: 1024 }).load()!;
    expect(stored.outgoing.length + stored.queued.length).toBe(accepted);
  });

  test("a message larger than a whole record is taken alone (RAM only), and nothing else while it is held", async () => {
    const prefs = new FakePreferences();
    const port = await deadPort();
    const link = mqttConnector({ session: { prefs, maxBytes: 2048 }, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } })(
      linkOptions(port),
      () => undefined,
    );
    expect(link.publish("test/large", new Uint8Array(3000), { qos: 1 })).toBe(true);
    expect(link.publish("mote/mote-0123456789ab/telemetry", record(1), { qos: 1 })).toBe(false);
    expect(link.publish("test/large", new Uint8Array(3000), { qos: 1 })).toBe(false);
    expect(link.queueDepth).toBe(1);
    link.end();
  });

  test("a stored session is resumed under the configured client id (a clientId changed by `config` applies)", async () => {
    const prefs = new FakePreferences();
    const port = await deadPort();
    const opts = { session: { prefs }, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } };
    const old = mqttConnector(opts)(linkOptions(port, "old-id"), () => undefined);
    old.publish("mote/old-id/telemetry", record(1), { qos: 1 });
    old.end();
    const store = new PreferenceSessionStore(prefs, SESSION_DOMAIN);
    expect(store.load()?.clientId).toBe("old-id");
    const renamed = mqttConnector(opts)(linkOptions(port, "new-id"), () => undefined);
    expect(renamed.queueDepth).toBe(1); // the old message is still delivered
    renamed.publish("mote/new-id/telemetry", record(2), { qos: 1 });
    renamed.end();
    expect(store.load()?.clientId).toBe("new-id");
  });
});

describe("device MQTT link: messages received", () => {
  test("reach the program in arrival order; a throwing program is the next offline's reason, and later messages still arrive", async () => {
    const broker = await Aedes.createBroker();
    const server = createServer(broker.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const events: MqttLinkEvent[] = [];
    const link = mqttConnector({ reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } })({ ...linkOptions(port), cleanSession: true }, (e) => {
      events.push(e);
      if (e.type === "message" && new TextDecoder().decode(e.payload) === "2") throw new Error("the program failed");
    });
    const peer = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    try {
      await until(() => events.some((e) => e.type === "connect"));
      link.subscribe("cmd/#", 1);
      await new Promise((r) => setTimeout(r, 100)); // the SUBACK
      for (let i = 1; i <= 4; i++) await peer.publishAsync(`cmd/${i}`, String(i), { qos: 1 });
      await until(() => events.filter((e) => e.type === "message").length === 4);
      const messages = events.flatMap((e) => (e.type === "message" ? [`${e.topic}=${new TextDecoder().decode(e.payload)}`] : []));
      expect(messages).toEqual(["cmd/1=1", "cmd/2=2", "cmd/3=3", "cmd/4=4"]);
      // the broker drops the device: the link says why it went offline
      for (const c of Object.values((broker as unknown as { clients: Record<string, { close(): void }> }).clients)) c.close();
      await until(() => events.some((e) => e.type === "offline"));
      expect(events.find((e) => e.type === "offline")).toEqual({ type: "offline", reason: "listener" });
    } finally {
      link.end();
      await peer.endAsync(true);
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

async function until(done: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("boot counter", () => {
  test("counts boots with one write each, from 1", () => {
    const prefs = new FakePreferences();
    expect([countBoot(prefs), countBoot(prefs), countBoot(prefs)]).toEqual([1, 2, 3]);
    expect(prefs.writes).toBe(3);
    prefs.setPreference("mote-app", "boot", 0x7fff_ffff);
    expect(countBoot(prefs)).toBe(1); // wraps instead of leaving the int32 range
  });

  test("a failing preference store gives no number instead of a failed boot", () => {
    const broken = { getPreference: () => undefined, setPreference: () => { throw new Error("NVS full"); } };
    expect(countBoot(broken)).toBeUndefined();
  });
});
