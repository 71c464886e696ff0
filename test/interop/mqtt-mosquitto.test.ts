/**
 * Interop, Node mode: our client against a real mosquitto (Debian) started
 * on a free port with persistence on, in MQTT 3.1.1 and 5.0, with MQTT.js as
 * the other client. Covers QoS 2 exactly-once across a restarted broker and
 * across dropped connections, and a persistent session across a restart of
 * the client itself.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import mqtt from "mqtt";
import { connect, PreferenceSessionStore, type ClientOptions, type MqttClient } from "../../src/mqtt/index.js";
import * as preferences from "../../src/platform/preferences.js";
import { freePort, mosquittoSkipReason, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { collect, connected, once, text, waitFor } from "./mqtt-helpers.js";

const skip = mosquittoSkipReason();

let broker: Mosquitto;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  if (skip) return;
  broker = await startMosquitto({ users: [{ username: "dev", password: "s3cret" }] });
}, 20_000);

afterAll(async () => {
  for (const c of closers.reverse()) await Promise.race([c().catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
  await broker?.close();
});

const AUTH = { username: "dev", password: "s3cret" };

function ours(options: ClientOptions & { port?: number }): MqttClient {
  const c = connect({ host: "127.0.0.1", port: broker.port, reconnect: { initialDelayMs: 50, maxDelayMs: 250 }, ...AUTH, ...options });
  closers.push(() => c.end({ force: true }));
  return c;
}

async function theirs(options: mqtt.IClientOptions): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 100, ...AUTH, ...options });
  closers.push(() => c.endAsync(true));
  return c;
}

/** A TCP proxy in front of mosquitto whose connections the test can cut. */
async function proxy(target: () => number): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((inbound) => {
    const outbound = tcpConnect({ host: "127.0.0.1", port: target() });
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
      pairs.delete(pair);
    };
    inbound.on("error", drop).on("close", drop);
    outbound.on("error", drop).on("close", drop);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    port,
    cut: () => {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => r());
      }),
  };
}

describe.skipIf(skip)("our client with mosquitto", () => {
  for (const v of [4, 5] as const) {
    test(`v${v === 4 ? "3.1.1" : "5"}: pub/sub at every QoS both ways with MQTT.js`, async () => {
      const c = ours({ clientId: `both${v}`, protocolVersion: v });
      const other = await theirs({ clientId: `js${v}`, protocolVersion: v });
      await connected(c);
      const got: string[] = [];
      expect(await c.subscribe(`v${v}/js`, (t, payload, p) => got.push(`${text(payload)}@${p.qos}`), { qos: 2 })).toEqual([2]);
      const seen: string[] = [];
      other.on("message", (t, payload, p) => seen.push(`${payload}@${p.qos}`));
      await other.subscribeAsync(`v${v}/mote`, { qos: 2 });
      for (const qos of [0, 1, 2] as const) {
        await other.publishAsync(`v${v}/js`, `js${qos}`, { qos });
        await c.publish(`v${v}/mote`, `mote${qos}`, { qos });
      }
      await waitFor(() => got.length === 3 && seen.length === 3);
      expect(got.sort()).toEqual(["js0@0", "js1@1", "js2@2"]);
      expect(seen.sort()).toEqual(["mote0@0", "mote1@1", "mote2@2"]);
      expect(await c.unsubscribe(`v${v}/js`)).toEqual(v === 5 ? [0] : []);
      await c.end();
    });
  }

  test("a wrong password is refused: mosquitto answers 'not authorized' (0x87, 3.1.1 return code 5)", async () => {
    for (const v of [4, 5] as const) {
      const c = ours({ clientId: `badpw${v}`, protocolVersion: v, password: "nope", reconnect: false });
      const err = (await once(c, "error")) as { code: string; reasonCode?: number };
      expect([err.code, err.reasonCode]).toEqual(["connect-refused", 0x87]);
      await c.end({ force: true });
    }
  });

  test("v5: topic aliases toward mosquitto and user properties arrive at MQTT.js", async () => {
    const c = ours({ clientId: "alias", protocolVersion: 5 });
    const other = await theirs({ clientId: "alias-js", protocolVersion: 5 });
    await other.subscribeAsync("alias/#", { qos: 1 });
    const seen: [string, unknown][] = [];
    other.on("message", (t, payload, p) => seen.push([`${t}=${payload}`, p.properties?.userProperties]));
    await connected(c);
    for (let i = 0; i < 3; i++) await c.publish("alias/long/topic/name", String(i), { qos: 1, properties: { userProperties: [["k", "v"]] } });
    await waitFor(() => seen.length === 3);
    expect(seen).toEqual([0, 1, 2].map((i) => [`alias/long/topic/name=${i}`, { k: "v" }]));
    await c.end();
  });

  test("QoS 2 is exactly-once across a restarted broker (persistence on)", async () => {
    const sub = ours({ clientId: "eo-sub", protocolVersion: 5, clean: false, sessionExpiry: 3600 });
    await connected(sub);
    const got = collect(sub, "eo/#");
    await sub.subscribe("eo/#", undefined, { qos: 2 });
    const pub = ours({ clientId: "eo-pub", protocolVersion: 5, clean: false, sessionExpiry: 3600 });
    await connected(pub);
    const N = 40;
    const sends: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      sends.push(pub.publish("eo/n", String(i), { qos: 2 }));
      if (i === N / 2) await broker.restart();
    }
    await Promise.all(sends);
    await waitFor(() => got.length >= N, 20_000);
    await new Promise((r) => setTimeout(r, 300)); // room for a duplicate to show up
    const values = got.map((m) => Number(text(m.payload))).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: N }, (_, i) => i));
    await pub.end();
    await sub.end();
  }, 40_000);

  test("QoS 2 is exactly-once across connections cut again and again", async () => {
    const px = await proxy(() => broker.port);
    closers.push(px.close);
    const sub = ours({ clientId: "cut-sub", protocolVersion: 4, clean: false, port: px.port });
    await connected(sub);
    const got = collect(sub, "cut/#");
    await sub.subscribe("cut/#", undefined, { qos: 2 });
    const pub = ours({ clientId: "cut-pub", protocolVersion: 4, clean: false, port: px.port });
    await connected(pub);
    const N = 60;
    const sends: Promise<void>[] = [];
    // a bounded number of cuts, so the test makes progress even on a loaded machine
    let cuts = 0;
    const cutter = setInterval(() => {
      if (cuts++ < 8) px.cut();
    }, 40);
    try {
      for (let i = 0; i < N; i++) {
        sends.push(pub.publish("cut/n", String(i), { qos: 2 }));
        await new Promise((r) => setTimeout(r, 3));
      }
      await Promise.all(sends);
    } finally {
      clearInterval(cutter);
    }
    await waitFor(() => got.length >= N, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    const values = got.map((m) => Number(text(m.payload))).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(cuts).toBeGreaterThan(1);
    await pub.end();
    await sub.end();
  }, 40_000);

  test("a persistent session survives a restart of the client itself (same store)", async () => {
    const other = await theirs({ clientId: "restart-watch", protocolVersion: 5 });
    await other.subscribeAsync("restart/#", { qos: 1 });
    const seen: string[] = [];
    other.on("message", (t, payload) => t.startsWith("restart/") && seen.push(String(payload)));
    // the device's preference store (Node twin: files in the simulated board's state folder)
    const store = new PreferenceSessionStore(preferences, `rs${Date.now() % 1e6}`);
    const deadPort = await freePort(); // nothing listens: messages stay queued
    const first = ours({ clientId: "restart-dev", protocolVersion: 5, clean: false, sessionExpiry: 600, port: deadPort, store, reconnect: false });
    const pending = ["a", "b", "c"].map((m) => first.publish("restart/x", m, { qos: 1 }).catch((e: { code: string }) => e.code));
    await first.end({ force: true });
    expect(await Promise.all(pending)).toEqual(["ended", "ended", "ended"]);
    // "reboot": a new client object over a new store object on the same preferences
    const second = ours({ clientId: "restart-dev", protocolVersion: 5, clean: false, sessionExpiry: 600, store: new PreferenceSessionStore(preferences, store.domain) });
    expect(second.session.queuedCount).toBe(3);
    await connected(second);
    await waitFor(() => seen.length === 3);
    expect(seen).toEqual(["a", "b", "c"]);
    await second.end();
  });

  test("messages for a persistent subscriber published while it was away arrive when it comes back", async () => {
    const first = ours({ clientId: "away", protocolVersion: 4, clean: false });
    await once(first, "connect");
    await first.subscribe("away/#", undefined, { qos: 1 });
    await first.end();
    const other = await theirs({ clientId: "away-pub", protocolVersion: 4 });
    for (const m of ["1", "2"]) await other.publishAsync("away/x", m, { qos: 1 });
    const again = ours({ clientId: "away", protocolVersion: 4, clean: false });
    const got = collect(again, "away/#");
    const info = (await once(again, "connect")) as { sessionPresent: boolean };
    expect(info.sessionPresent).toBe(true);
    await waitFor(() => got.length === 2);
    expect(got.map((m) => text(m.payload))).toEqual(["1", "2"]);
    await again.end();
  });

  test("publishes made while the broker is down are delivered after reconnect", async () => {
    const c = ours({ clientId: "offline-q", protocolVersion: 5 });
    await connected(c);
    // a persistent watcher: mosquitto keeps its subscription (and queues for it) across its own restart
    const other = await theirs({ clientId: "offline-watch", protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 600 } });
    await other.subscribeAsync("offq/#", { qos: 1 });
    const seen: string[] = [];
    other.on("message", (t, payload) => t.startsWith("offq/") && seen.push(String(payload)));
    const offline = once(c, "offline");
    await broker.stop();
    await offline;
    const sends = ["x", "y", "z"].map((m) => c.publish("offq/m", m, { qos: 1 }));
    expect(c.session.queuedCount).toBe(3);
    await broker.start();
    await Promise.all(sends);
    await waitFor(() => seen.length === 3, 15_000);
    expect(seen).toEqual(["x", "y", "z"]);
    await c.end();
  }, 30_000);
});
