/**
 * XS side of test/xs/mqtt.test.ts: the MQTT client from src/mqtt running
 * inside the real XS engine, its sockets and timers served by the Node twins.
 */
import { connect, type MqttClient } from "../../src/mqtt/index.js";
import { MqttDecoder, encodePacket } from "../../src/mqtt/codec.js";
import type { PublishPacket, QoS } from "../../src/mqtt/packets.js";
import { decodeUtf8 } from "../../src/util/utf8.js";
import { clearTimer, setTimer } from "../../src/platform/timer.js";
import { now } from "../../src/platform/clock.js";

const g = globalThis as unknown as Record<string, unknown>;
let client: MqttClient | undefined;
const got: string[] = [];
let connects = 0;

function text(b: Uint8Array): string {
  const s = decodeUtf8(b);
  return typeof s === "string" ? s : "?";
}

function until(cond: () => boolean, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    let left = Math.ceil(ms / 20);
    const tick = () => {
      if (cond()) return resolve(true);
      if (left-- <= 0) return resolve(false);
      setTimer(tick, 20);
    };
    tick();
  });
}

/** `p`, or a rejection naming `what` after `ms` (every wait in XS is bounded). */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimer(() => {
      reject(new Error(`timeout: ${what} (state ${client?.session.state}, inflight ${client?.session.inflightCount}, queued ${client?.session.queuedCount})`));
    }, ms);
    p.then(
      (v) => {
        clearTimer(timer);
        resolve(v);
      },
      (e) => {
        clearTimer(timer);
        reject(e);
      },
    );
  });
}

/** Connects, subscribes to xs/# at QoS 2, publishes QoS 0/1/2 to itself; returns what came back. */
g.mqttStart = async (args: { port: number; version: 4 | 5 }) => {
  client = connect({ host: "127.0.0.1", port: args.port, protocolVersion: args.version, clientId: "xs-dev", clean: false, reconnect: { initialDelayMs: 50, maxDelayMs: 300 } });
  client.on("connect", () => connects++);
  client.on("message", (topic, payload, p) => got.push(`${topic}=${text(payload)}@${p.qos}`));
  if (!(await until(() => connects > 0, 5000))) return { error: "no connect" };
  const granted = await bounded(client.subscribe("xs/#", undefined, { qos: 2 }), 10_000, "subscribe");
  for (const qos of [0, 1, 2] as QoS[]) await bounded(client.publish(`xs/${qos}`, `hello${qos}`, { qos }), 10_000, `publish QoS ${qos}`);
  await until(() => got.length >= 3, 5000);
  return { granted, got: got.splice(0).sort() };
};

/** After the broker restarted: waits for the reconnect, publishes again, returns what came back. */
g.mqttAfterRestart = async () => {
  const c = client!;
  if (!(await until(() => connects >= 2, 10_000))) return { error: `no reconnect (state ${c.session.state}, connects ${connects})` };
  for (const qos of [1, 2] as QoS[]) await bounded(c.publish(`xs/again${qos}`, `back${qos}`, { qos }), 10_000, `publish again QoS ${qos}`);
  await until(() => got.length >= 2, 5000);
  return { connects, got: got.splice(0).sort() };
};

/** Publishes `count` 64-byte messages at `qos` keeping `window` in flight; returns the elapsed ms (XS clock). */
g.mqttPublishMany = async (args: { count: number; qos: QoS; window: number }) => {
  const c = client!;
  const payload = new Uint8Array(64).fill(0x63);
  const t0 = now();
  let next = 0;
  const lanes: Promise<void>[] = [];
  for (let l = 0; l < args.window; l++) {
    lanes.push(
      (async () => {
        while (next < args.count) {
          next++;
          await c.publish("xs/bench", payload, { qos: args.qos });
        }
      })(),
    );
  }
  await bounded(Promise.all(lanes), 60_000, "publish many");
  return now() - t0;
};

g.mqttEnd = async () => {
  if (client) await bounded(client.end(), 10_000, "end");
  client = undefined;
  return "ended";
};

/** Encode + decode `count` PUBLISH packets (16-byte topic, `size`-byte payload) inside XS. */
g.mqttCodecLoop = (args: { count: number; size: number }) => {
  const payload = new Uint8Array(args.size).fill(0x61);
  const packet: PublishPacket = { type: "publish", topic: "sensors/dev1/tmp", payload, qos: 1, retain: false, dup: false, packetId: 1 };
  const pool = new Uint8Array(args.size + 64);
  const decoder = new MqttDecoder({ version: 4, maxPacketSize: 1 << 20 });
  let bytes = 0;
  for (let i = 0; i < args.count; i++) {
    decoder.push(encodePacket(packet, 4, pool));
    bytes += (decoder.next() as PublishPacket).payload.length;
  }
  return bytes;
};

/** A second client, for the network-return case: connects through `port` (a relay the test controls). */
let returning: MqttClient | undefined;
let returningConnects = 0;
g.rnStart = async (args: { port: number }) => {
  // The CONNACK wait is 10 minutes: only reconnectNow() can end a lost attempt within the test.
  returning = connect({ host: "127.0.0.1", port: args.port, protocolVersion: 4, clientId: "xs-rn", connectTimeoutMs: 600_000, reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
  returning.on("connect", () => returningConnects++);
  return (await until(() => returningConnects > 0, 5000)) ? { connects: returningConnects } : { error: "no connect" };
};
/** The network is back: reconnectNow(), then whether it connects again (bounded). */
g.rnNow = async () => {
  const before = returningConnects;
  const wasConnected = returning!.connected;
  returning!.reconnectNow();
  const ok = await until(() => returningConnects > before, 10_000);
  const r = { wasConnected, connected: ok && returning!.connected };
  await returning!.end({ force: true });
  return r;
};

/** Decodes each v4 PUBLISH given as bytes: its topic name, or the reason code it was refused with (the codec's topic fast path in XS). */
g.mqttDecodeTopics = (args: { packets: number[][] }) =>
  args.packets.map((bytes) => {
    const d = new MqttDecoder({ version: 4 });
    d.push(Uint8Array.from(bytes));
    const r = d.next();
    return r !== undefined && "reasonCode" in r ? { refused: r.reasonCode } : { topic: (r as PublishPacket).topic };
  });
/** Encodes and decodes PUBLISHes to each topic, twice round (the encoder's topic cache): the topics decoded. */
g.mqttTopicRoundTrip = (args: { topics: string[] }) => {
  const out: string[] = [];
  for (let round = 0; round < 2; round++)
    for (const topic of args.topics) {
      const d = new MqttDecoder({ version: 4 });
      d.push(encodePacket({ type: "publish", topic, payload: Uint8Array.of(1), qos: 1, retain: false, dup: false, packetId: 3 }, 4));
      out.push((d.next() as PublishPacket).topic);
    }
  return out;
};
