/**
 * Interop, Node mode: our client (src/mqtt over the platform's Node twins)
 * against aedes in-process (MQTT 3.1.1) with MQTT.js as the other client,
 * plus a hand-written fake broker for the malformed-packet case.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connect as netConnect, createServer, type Server, type Socket } from "node:net";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { connect, type MqttClient } from "../../src/mqtt/index.js";
import { freePort } from "../helpers/mosquitto.js";
import { bytes, collect, connected, once, text, waitFor } from "./mqtt-helpers.js";

let broker: Aedes;
let server: Server;
let port: number;
const clients: { end(o?: { force?: boolean }): unknown }[] = [];

beforeAll(async () => {
  broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      if (username === "bad") return done(Object.assign(new Error("bad"), { returnCode: 4 }) as never, false);
      done(null, true);
    },
  });
  server = createServer(broker.handle);
  port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
});

afterAll(async () => {
  for (const c of clients) await Promise.race([c.end({ force: true }), new Promise((r) => setTimeout(r, 500))]);
  await new Promise<void>((r) => broker.close(() => r()));
  await new Promise<void>((r) => server.close(() => r()));
});

function ours(options: Record<string, unknown> = {}): MqttClient {
  const c = connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnect: { initialDelayMs: 50, maxDelayMs: 200 }, ...options });
  clients.push(c);
  return c;
}

async function theirs(options: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0, ...options });
  clients.push({ end: () => c.endAsync(true) });
  return c;
}

describe("our client with aedes and MQTT.js (3.1.1)", () => {
  test("connects, subscribes, and gets its own QoS 0/1/2 publishes back", async () => {
    const c = ours({ clientId: "self" });
    await connected(c);
    const got = collect(c, "t/self/#");
    expect(await c.subscribe("t/self/#", undefined, { qos: 2 })).toEqual([2]);
    await c.publish("t/self/0", "zero", { qos: 0 });
    await c.publish("t/self/1", "one", { qos: 1 });
    await c.publish("t/self/2", "two", { qos: 2 });
    await waitFor(() => got.length === 3);
    expect(got.map((m) => [m.topic, text(m.payload), m.qos]).sort()).toEqual([["t/self/0", "zero", 0], ["t/self/1", "one", 1], ["t/self/2", "two", 2]]);
    await c.end();
  });

  test("messages go both ways with MQTT.js at every QoS", async () => {
    const c = ours({ clientId: "both" });
    const other = await theirs({ clientId: "other" });
    await connected(c);
    const got: string[] = [];
    await c.subscribe("from/js", (topic, payload, p) => got.push(`${text(payload)}@${p.qos}`), { qos: 2 });
    const seen: string[] = [];
    other.on("message", (topic, payload, p) => seen.push(`${payload}@${p.qos}`));
    await other.subscribeAsync("from/mote", { qos: 2 });
    for (const qos of [0, 1, 2] as const) {
      await other.publishAsync("from/js", `js${qos}`, { qos });
      await c.publish("from/mote", `mote${qos}`, { qos });
    }
    await waitFor(() => got.length === 3 && seen.length === 3);
    expect(got.sort()).toEqual(["js0@0", "js1@1", "js2@2"]);
    expect(seen.sort()).toEqual(["mote0@0", "mote1@1", "mote2@2"]);
    await c.end();
  });

  test("a retained message reaches a later subscriber with the retain flag", async () => {
    const c = ours({ clientId: "ret" });
    await connected(c);
    await c.publish("ret/state", "on", { qos: 1, retain: true });
    const other = await theirs({ clientId: "ret-sub" });
    const p = new Promise<[string, boolean]>((resolve) => other.on("message", (t, payload, packet) => resolve([String(payload), packet.retain])));
    await other.subscribeAsync("ret/state", { qos: 1 });
    expect(await p).toEqual(["on", true]);
    await c.end();
  });

  test("the will is published when the connection dies", async () => {
    const other = await theirs({ clientId: "will-watch" });
    await other.subscribeAsync("will/#", { qos: 1 });
    const will = new Promise<string>((resolve) => other.on("message", (t, payload) => t === "will/dev" && resolve(String(payload))));
    const c = ours({ clientId: "will-dev", will: { topic: "will/dev", payload: bytes("gone"), qos: 1, retain: false }, reconnect: false });
    await connected(c);
    // the broker drops the connection: no DISCONNECT, so the will goes out
    const conn = (broker as unknown as { clients: Record<string, { conn: Socket }> }).clients["will-dev"].conn;
    conn.destroy();
    expect(await will).toBe("gone");
    await c.end({ force: true });
  });

  test("a refused CONNECT comes out as an error event with the reason code", async () => {
    const c = ours({ clientId: "bad", username: "bad", password: "x", reconnect: false });
    const err = (await once(c, "error")) as { code: string; reasonCode?: number };
    expect(err.code).toBe("connect-refused");
    expect(err.reasonCode).toBe(0x86);
    await c.end({ force: true });
  });

  test("publishes made before the connection is up are queued and delivered after it", async () => {
    const other = await theirs({ clientId: "q-watch" });
    await other.subscribeAsync("queued/#", { qos: 1 });
    const seen: string[] = [];
    other.on("message", (t, payload) => t.startsWith("queued/") && seen.push(String(payload)));
    const c = ours({ clientId: "q" });
    const sends = [c.publish("queued/a", "1", { qos: 1 }), c.publish("queued/a", "2", { qos: 0 }), c.publish("queued/a", "3", { qos: 2 })];
    expect(c.session.queuedCount).toBe(3);
    await Promise.all(sends);
    await waitFor(() => seen.length === 3);
    expect(seen.sort()).toEqual(["1", "2", "3"]); // order across QoS levels is not guaranteed (§4.6)
    await c.end();
  });

  test("after the broker drops the connection the client reconnects and its subscriptions work again", async () => {
    const c = ours({ clientId: "rc" });
    await connected(c);
    const got = collect(c, "rc/#");
    await c.subscribe("rc/#", undefined, { qos: 1 });
    const reconnected = once(c, "connect");
    (broker as unknown as { clients: Record<string, { conn: Socket }> }).clients["rc"].conn.destroy();
    await reconnected;
    const other = await theirs({ clientId: "rc-pub" });
    await other.publishAsync("rc/x", "after", { qos: 1 });
    await waitFor(() => got.length === 1);
    expect(text(got[0].payload)).toBe("after");
    await c.end();
  });
});

describe("listeners that call the client from inside its actions", () => {
  test("a connect listener's subscribe and publishes are handled after the CONNACK's actions, in order", async () => {
    const c = ours({ clientId: "reentry" });
    const got = collect(c, "t/reentry/#");
    const results: Promise<unknown>[] = [];
    let heldInListener = -1;
    c.on("connect", () => {
      results.push(c.subscribe("t/reentry/#", undefined, { qos: 1 }));
      results.push(c.publish("t/reentry/1", "one", { qos: 1 }));
      results.push(c.publish("bad/#", "x", { qos: 1 }).catch((e: { code: string }) => e.code)); // refused when its turn comes
      results.push(c.publish("t/reentry/2", "two", { qos: 1 }));
      // not handled yet: the session is still running the CONNACK's actions
      heldInListener = c.session.inflightCount + c.session.queuedCount;
    });
    await connected(c);
    expect(heldInListener).toBe(0);
    expect(await Promise.all(results)).toEqual([[1], undefined, "invalid-topic", undefined]);
    await waitFor(() => got.length === 2);
    expect(got.map((m) => text(m.payload))).toEqual(["one", "two"]);
    await c.end();
  });
});

describe("message listeners", () => {
  test("one listener that throws is an error event (code listener) and still gets the next message; with two, both get each one, and one may leave during the call", async () => {
    const c = ours({ clientId: "listeners" });
    await connected(c);
    await c.subscribe("t/listeners/#", undefined, { qos: 1 });
    const first: string[] = [];
    const errors: string[] = [];
    c.on("error", (e) => errors.push((e as { code: string }).code));
    const throwing = (topic: string, payload: Uint8Array) => {
      first.push(text(payload));
      if (text(payload) === "boom") throw new Error("listener bug");
    };
    c.on("message", throwing);
    await c.publish("t/listeners/a", "boom", { qos: 1 });
    await c.publish("t/listeners/b", "after", { qos: 1 });
    await waitFor(() => first.length === 2);
    expect(first).toEqual(["boom", "after"]);
    expect(errors).toEqual(["listener"]);
    const second: string[] = [];
    const leaving = (topic: string, payload: Uint8Array) => {
      second.push(text(payload));
      c.off("message", leaving);
    };
    c.on("message", leaving);
    await c.publish("t/listeners/c", "both", { qos: 1 });
    await c.publish("t/listeners/d", "first only", { qos: 1 });
    await waitFor(() => first.length === 4);
    expect(first).toEqual(["boom", "after", "both", "first only"]);
    expect(second).toEqual(["both"]);
    await c.end();
  });
});

describe("a broker that sends a malformed packet", () => {
  test("gives a typed error and a clean close", async () => {
    const fakePort = await freePort();
    const fake = createServer((s) => {
      s.once("data", () => {
        s.write(Uint8Array.of(0x20, 0x02, 0x00, 0x00)); // CONNACK ok
        s.write(Uint8Array.of(0x36, 0x03, 0x00, 0x01, 0x61)); // PUBLISH with QoS 3: malformed
      });
    });
    await new Promise<void>((r) => fake.listen(fakePort, "127.0.0.1", r));
    const closedByClient = new Promise<void>((resolve) => fake.on("connection", (s) => s.on("close", () => resolve())));
    const c = connect(`mqtt://127.0.0.1:${fakePort}`, { protocolVersion: 4, reconnect: false });
    const err = (await once(c, "error")) as { code: string; name: string };
    expect(err.name).toBe("MqttConnectionError");
    expect(err.code).toBe("malformed-packet");
    await closedByClient;
    await c.end({ force: true });
    await new Promise<void>((r) => fake.close(() => r()));
  });
});

describe("ending at any moment", () => {
  test("end() right after connect(), before the socket is up, resolves; publishes then fail with 'ended'", async () => {
    const c = connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, clientId: "early-end" });
    const p = c.publish("x", "y", { qos: 1 }).catch((e: { code: string }) => e.code);
    await c.end();
    expect(await p).toBe("ended");
    expect(c.connected).toBe(false);
    await expect(c.publish("x", "y")).rejects.toThrow(/ended/);
  });

  test("end() while CONNECT is in flight resolves", async () => {
    const c = connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, clientId: "mid-end" });
    await new Promise((r) => setTimeout(r, 1));
    await c.end();
    expect(c.session.state).toBe("ended");
  });
});

describe("reconnecting and dead links (real sockets)", () => {
  test("reconnect delays grow exponentially with full jitter, capped at maxDelayMs", async () => {
    const deadPort = await freePort();
    const c = connect(`mqtt://127.0.0.1:${deadPort}`, { protocolVersion: 4, reconnect: { initialDelayMs: 8, maxDelayMs: 40 } });
    const seen: { attempt: number; delayMs: number }[] = [];
    c.on("reconnect", (r) => seen.push(r));
    await waitFor(() => seen.length >= 7);
    await c.end({ force: true });
    seen.forEach((r, i) => {
      expect(r.attempt).toBe(i + 1);
      expect(r.delayMs).toBeGreaterThanOrEqual(0);
      expect(r.delayMs).toBeLessThanOrEqual(Math.min(40, 8 * 2 ** i));
    });
  });

  test("a connection that stayed up for stableAfterMs resets the backoff", async () => {
    const c = ours({ clientId: "stable", reconnect: { initialDelayMs: 5, maxDelayMs: 50, stableAfterMs: 0 } });
    const attempts: number[] = [];
    c.on("reconnect", (r) => attempts.push(r.attempt));
    for (let i = 0; i < 3; i++) {
      await connected(c);
      const again = once(c, "connect");
      (broker as unknown as { clients: Record<string, { conn: Socket }> }).clients["stable"].conn.destroy();
      await again;
    }
    expect(attempts).toEqual([1, 1, 1]);
    await c.end();
  });

  test("a broker that stops answering PINGREQ is detected as a dead link", async () => {
    const fakePort = await freePort();
    const fake = createServer((s) => s.once("data", () => s.write(Uint8Array.of(0x20, 0x02, 0x00, 0x00)))); // CONNACK, then silence
    await new Promise<void>((r) => fake.listen(fakePort, "127.0.0.1", r));
    const c = connect(`mqtt://127.0.0.1:${fakePort}`, { protocolVersion: 4, keepAlive: 1, pingTimeoutMs: 200, reconnect: false });
    await connected(c);
    const err = (await once(c, "error", 5000)) as { code: string };
    expect(err.code).toBe("keepalive-timeout");
    await c.end({ force: true });
    await new Promise<void>((r) => fake.close(() => r()));
  });
});

describe("when the network comes back", () => {
  test("reconnectNow() ends a long backoff wait at once and starts the backoff over", async () => {
    const c = ours({ clientId: "rn", reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    await connected(c);
    // Full jitter may draw a short wait; drop again (at most 5 times) until the
    // client has scheduled one long enough to tell "now" from "when due".
    for (let tries = 0; ; tries++) {
      const waiting = once(c, "reconnect");
      (broker as unknown as { clients: Record<string, { conn: Socket }> }).clients["rn"].conn.destroy();
      const { attempt, delayMs } = (await waiting) as { attempt: number; delayMs: number };
      expect(attempt).toBe(1); // reconnectNow() started the backoff over each time
      const reconnected = once(c, "connect", 65_000);
      const started = Date.now();
      c.reconnectNow();
      await reconnected;
      if (delayMs >= 5_000 || tries === 4) {
        expect(delayMs).toBeGreaterThanOrEqual(5_000);
        expect(Date.now() - started).toBeLessThan(delayMs);
        break;
      }
    }
    await c.end();
  }, 30_000);

  test("reconnectNow() abandons an attempt begun during the outage whose CONNECT was lost, and connects with a fresh one", async () => {
    // A relay in front of aedes: while "dark" it takes connections and swallows
    // their bytes (what a CONNECT sent into a dead network meets); lit, it relays.
    let dark = false;
    const swallowed: Socket[] = [];
    const relay = createServer((s) => {
      s.on("error", () => undefined);
      if (dark) {
        s.on("data", () => swallowed.push(s));
        return;
      }
      const up = netConnect({ host: "127.0.0.1", port });
      up.on("error", () => s.destroy());
      s.on("close", () => up.destroy());
      up.on("close", () => s.destroy());
      s.pipe(up).pipe(s);
    });
    const relayPort = await freePort();
    await new Promise<void>((r) => relay.listen(relayPort, "127.0.0.1", r));
    // The CONNACK wait is 10 minutes: only reconnectNow() can end it within this test.
    const c = connect(`mqtt://127.0.0.1:${relayPort}`, { protocolVersion: 4, clientId: "rn-lost", connectTimeoutMs: 600_000, reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    clients.push(c);
    await connected(c);
    dark = true;
    (broker as unknown as { clients: Record<string, { conn: Socket }> }).clients["rn-lost"].conn.destroy();
    await waitFor(() => swallowed.length > 0); // the next attempt's CONNECT went nowhere
    expect(c.connected).toBe(false);
    dark = false;
    const reconnected = once(c, "connect");
    c.reconnectNow();
    await reconnected;
    expect(c.connected).toBe(true);
    await c.end();
    for (const s of swallowed) s.destroy();
    await new Promise<void>((r) => relay.close(() => r()));
  });
});
