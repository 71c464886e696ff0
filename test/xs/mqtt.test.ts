/**
 * XS tier: the MQTT client running inside the real XS engine (xsnap) against
 * aedes in this process: connect, subscribe, publish QoS 0/1/2, and a broker
 * restart on the same port.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { connect as netConnect, createServer, type Server, type Socket } from "node:net";
import { Aedes } from "aedes";
import { bundleForXs, startXs, type XsEngine } from "../../host-shim/xs/engine.js";
import { freePort, mosquittoSkipReason, startMosquitto } from "../helpers/mosquitto.js";

let port: number;
let broker: { aedes: Aedes; server: Server; sockets: Set<Socket> } | undefined;
let xs: XsEngine | undefined;

async function startBroker(): Promise<void> {
  const aedes = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    aedes.handle(s);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  broker = { aedes, server, sockets };
}

async function stopBroker(): Promise<void> {
  const b = broker;
  broker = undefined;
  if (!b) return;
  // stop accepting first, so the client cannot reconnect to the broker being shut down
  const closed = new Promise<void>((r) => b.server.close(() => r()));
  for (const s of b.sockets) s.destroy();
  await new Promise<void>((r) => b.aedes.close(() => r()));
  await closed;
}

beforeAll(async () => {
  port = await freePort();
  await startBroker();
  xs = await startXs({ bundle: await bundleForXs("test/xs/mqtt-entry.ts"), name: "mqtt" });
}, 60_000);

afterAll(async () => {
  await xs?.close();
  await stopBroker();
});

test("inside XS: connect, subscribe, publish QoS 0/1/2 to aedes and get them back; survive a broker restart", async () => {
  const first = (await xs!.call("mqttStart", { port, version: 4 }).catch((e) => ({ error: String(e), logs: xs!.logs.slice(-20) }))) as { granted: number[]; got: string[] };
  expect(first).toEqual({ granted: [2], got: ["xs/0=hello0@0", "xs/1=hello1@1", "xs/2=hello2@2"] });
  await stopBroker();
  await startBroker(); // same port, fresh broker: no session, so the client re-subscribes
  const second = (await xs!.call("mqttAfterRestart").catch((e) => ({ error: String(e), logs: xs!.logs.slice(-20) }))) as { connects: number; got: string[] };
  expect(second).toMatchObject({ got: ["xs/again1=back1@1", "xs/again2=back2@2"] });
  expect(second.connects).toBeGreaterThanOrEqual(2);
  expect(await xs!.call("mqttEnd")).toBe("ended");
}, 60_000);

test("inside XS: reconnectNow() abandons an attempt whose CONNECT was lost during the outage and connects with a fresh one", async () => {
  // A relay in front of aedes: "dark", it takes connections and swallows their bytes.
  let dark = false;
  const swallowed: Socket[] = [];
  const pairs = new Set<Socket>();
  const relay = createServer((s) => {
    s.on("error", () => undefined);
    if (dark) {
      s.on("data", () => swallowed.push(s));
      return;
    }
    pairs.add(s);
    const up = netConnect({ host: "127.0.0.1", port });
    up.on("error", () => s.destroy());
    s.on("close", () => (up.destroy(), pairs.delete(s)));
    up.on("close", () => s.destroy());
    s.pipe(up).pipe(s);
  });
  const relayPort = await freePort();
  await new Promise<void>((r) => relay.listen(relayPort, "127.0.0.1", r));
  try {
    expect(await xs!.call("rnStart", { port: relayPort })).toEqual({ connects: 1 });
    dark = true;
    for (const s of pairs) s.destroy(); // the outage takes the connection
    const until = Date.now() + 10_000;
    while (swallowed.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(swallowed.length).toBeGreaterThan(0); // the next attempt's CONNECT went nowhere
    dark = false;
    expect(await xs!.call("rnNow")).toEqual({ wasConnected: false, connected: true });
  } finally {
    for (const s of swallowed) s.destroy();
    await new Promise<void>((r) => relay.close(() => r()));
  }
}, 60_000);

test("inside XS: the codec encodes and decodes PUBLISH packets with a flat heap", async () => {
  // a fresh engine: nothing else runs in it while the heap is measured
  const engine = await startXs({ bundle: await bundleForXs("test/xs/mqtt-entry.ts"), name: "mqtt-heap" });
  await engine.call("mqttCodecLoop", { count: 20_000, size: 64 });
  const before = await engine.meters();
  expect(await engine.call("mqttCodecLoop", { count: 20_000, size: 64 })).toBe(20_000 * 64);
  const after = await engine.meters();
  await engine.close();
  // the loop keeps nothing: the heap after a gc is where it was, give or take 64 KB
  expect(Math.abs(after.heapBytes - before.heapBytes)).toBeLessThan(65_536);
}, 60_000);

test("inside XS: topic names decode and encode the same on the fast paths (XS's String.fromArrayBuffer, the topic cache)", async () => {
  const engine = await startXs({ bundle: await bundleForXs("test/xs/mqtt-entry.ts"), name: "mqtt-topics" });
  try {
    const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
    // remaining length 3 + n (§1.5.5: two bytes from 128 on)
    const publish = (t: number[]) => [0x30, ...(t.length < 125 ? [3 + t.length] : [((3 + t.length) & 0x7f) | 0x80, (3 + t.length) >> 7]), 0, t.length, ...t, 0x78];
    const got = await engine.call("mqttDecodeTopics", {
      packets: [ascii("a/b"), [0xc3, 0xa9], ascii("t".repeat(129)), ascii("a+"), ascii("#"), [0x61, 0x00], [0x61, 0xff], [0xed, 0xa0, 0x80], [0xc0, 0x80]].map(publish),
    });
    expect(got).toEqual([{ topic: "a/b" }, { topic: "é" }, { topic: "t".repeat(129) }, { refused: 0x90 }, { refused: 0x90 }, { refused: 0x81 }, { refused: 0x81 }, { refused: 0x81 }, { refused: 0x81 }]);
    const topics = ["t/0", "t/1", "t/2", "t/3", "t/4", "t/5", "température", "x".repeat(200)];
    expect(await engine.call("mqttTopicRoundTrip", { topics })).toEqual([...topics, ...topics]);
  } finally {
    await engine.close();
  }
}, 60_000);

test.skipIf(mosquittoSkipReason())("inside XS: MQTT 5 with mosquitto, QoS 0/1/2, and a mosquitto restart (persistence on)", async () => {
  const broker = await startMosquitto();
  const engine = await startXs({ bundle: await bundleForXs("test/xs/mqtt-entry.ts"), name: "mqtt-v5" });
  try {
    const first = (await engine.call("mqttStart", { port: broker.port, version: 5 })) as { granted: number[]; got: string[] };
    expect(first).toEqual({ granted: [2], got: ["xs/0=hello0@0", "xs/1=hello1@1", "xs/2=hello2@2"] });
    await broker.restart(); // the session (clean: false) survives in mosquitto's persistence file
    const second = (await engine.call("mqttAfterRestart")) as { connects: number; got: string[] };
    expect(second).toMatchObject({ got: ["xs/again1=back1@1", "xs/again2=back2@2"] });
    expect(await engine.call("mqttEnd")).toBe("ended");
  } finally {
    await engine.close();
    await broker.close();
  }
}, 60_000);
