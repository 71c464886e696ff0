/**
 * `npm run bench -- mqtt`: MQTT figures, each against a peer measured in the same run.
 *  - codec: PUBLISH encode+decode (16-byte topic; 64 B and 4 KB payloads) vs mqtt-packet generate+parse
 *  - codec allocations per packet (heap growth per op, estimate) vs mqtt-packet
 *  - minified size of an MQTT-only device bundle (src/mqtt/index.ts, host modules external)
 *  - QoS 1 throughput to mosquitto, 10k x 64 B, vs MQTT.js (when mosquitto and the platform twins exist),
 *    and each client's CPU time per message in those rounds
 */
import mqttPacket from "mqtt-packet";
import { readFileSync } from "node:fs";
import v8 from "node:v8";
import vm from "node:vm";
import { join } from "node:path";
import { bundleForXs, projectRoot, startXs } from "../host-shim/xs/engine.js";
import { measureInXs } from "./lib.js";
import { MqttDecoder, encodePacket } from "../src/mqtt/codec.js";
import type { PublishPacket } from "../src/mqtt/packets.js";

export interface Figure {
  bench: "mqtt";
  metric: string;
  unit: string;
  mote: number;
  peer?: string;
  peer_value?: number;
  ratio?: number;
  engine?: "xs" | "node";
}
type Emit = (f: Figure) => void;

const TOPIC = "sensors/dev1/tmp"; // 16 bytes

/** Best ops/s over `rounds` timed runs of about `ms` each. */
function opsPerSecond(fn: () => void, ms = 400, rounds = 3): number {
  for (let i = 0; i < 2000; i++) fn(); // warm up
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < ms) {
      for (let i = 0; i < 200; i++) fn();
      n += 200;
      t = performance.now();
    }
    best = Math.max(best, (n * 1000) / (t - t0));
  }
  return best;
}

/** A gc() function: V8's, exposed at run time (the bench runner passes no flags). */
function gcFunction(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

/**
 * Bytes allocated per op, estimated: after a full gc, the growth of the JS heap plus
 * ArrayBuffer backing stores (Buffers live there) over a burst too short for a
 * scavenge; the smallest of several bursts (noise only adds).
 */
function bytesPerOp(fn: () => void, ops = 500): number {
  const gc = gcFunction();
  const samples: number[] = [];
  for (let tries = 0; tries < 9; tries++) {
    gc();
    const a = process.memoryUsage();
    for (let i = 0; i < ops; i++) fn();
    const b = process.memoryUsage();
    const grown = b.heapUsed - a.heapUsed + (b.arrayBuffers - a.arrayBuffers);
    if (grown >= 0) samples.push(grown / ops);
  }
  return samples.length ? Math.round(Math.min(...samples)) : NaN;
}

function codecPair(size: number): { ours: () => void; peer: () => void } {
  const payload = new Uint8Array(size).fill(0x61);
  const packet: PublishPacket = { type: "publish", topic: TOPIC, payload, qos: 1, retain: false, dup: false, packetId: 1 };
  const pool = new Uint8Array(size + 64);
  const decoder = new MqttDecoder({ version: 4, maxPacketSize: 1 << 20 });
  let sink = 0;
  const ours = () => {
    const bytes = encodePacket(packet, 4, pool);
    decoder.push(bytes);
    const p = decoder.next() as PublishPacket;
    sink += p.payload.length;
  };
  const peerPacket = { cmd: "publish" as const, topic: TOPIC, payload: Buffer.from(payload), qos: 1 as const, retain: false, dup: false, messageId: 1 };
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on("packet", (p) => (sink += (p as { payload: Buffer }).payload.length));
  const peer = () => {
    parser.parse(mqttPacket.generate(peerPacket));
  };
  void sink;
  return { ours, peer };
}

async function bundleSize(): Promise<number> {
  const esbuild = await import("esbuild");
  const modules = JSON.parse(readFileSync(join(projectRoot(), "host-shim/modules.json"), "utf8")) as Record<string, string>;
  const external = Object.keys(modules).filter((k) => k !== "//");
  const r = await esbuild.build({
    entryPoints: [join(projectRoot(), "src/mqtt/index.ts")],
    bundle: true,
    minify: true,
    write: false,
    format: "esm",
    target: "es2022",
    external,
    logLevel: "silent",
  });
  return r.outputFiles[0].contents.length;
}

export async function run(emit: Emit): Promise<void> {
  for (const [size, name] of [[64, "64B"], [4096, "4KB"]] as const) {
    const { ours, peer } = codecPair(size);
    const mote = opsPerSecond(ours);
    const peerValue = opsPerSecond(peer);
    emit({ bench: "mqtt", metric: `codec_publish_${name}`, unit: "packets/s", mote: Math.round(mote), peer: "mqtt-packet", peer_value: Math.round(peerValue), ratio: +(mote / peerValue).toFixed(2) });
    const moteBytes = bytesPerOp(ours);
    const peerBytes = bytesPerOp(peer);
    // fewer bytes is better: ratio = peer / mote
    emit({ bench: "mqtt", metric: `codec_alloc_${name}`, unit: "bytes/packet", mote: moteBytes, peer: "mqtt-packet", peer_value: peerBytes, ratio: +(peerBytes / Math.max(1, moteBytes)).toFixed(2) });
  }
  try {
    await codecInXs(emit);
  } catch (e) {
    emit({ bench: "mqtt", metric: "codec_publish_64B", unit: "packets/s", engine: "xs", mote: NaN, peer: `unavailable: ${String(e).slice(0, 120)}` });
  }
  try {
    const size = await bundleSize();
    emit({ bench: "mqtt", metric: "bundle_minified", unit: "bytes", mote: size, peer: "target", peer_value: 12_288, ratio: +(12_288 / size).toFixed(2) });
  } catch (e) {
    emit({ bench: "mqtt", metric: "bundle_minified", unit: "bytes", mote: NaN, peer: `unavailable: ${String(e).slice(0, 80)}` });
  }
  try {
    await clientInXs(emit);
  } catch (e) {
    emit({ bench: "mqtt", metric: "client_xs_heap_connected", unit: "bytes", engine: "xs", mote: NaN, peer: `unavailable: ${String(e).slice(0, 120)}` });
  }
  try {
    await throughput(emit);
  } catch (e) {
    emit({ bench: "mqtt", metric: "qos1_throughput_mosquitto", unit: "messages/s", mote: NaN, peer: `unavailable: ${String(e).slice(0, 120)}` });
  }
}

/** The codec inside the real XS engine: packets/s, and the XS heap before/after 100k packets (should be flat). */
async function codecInXs(emit: Emit): Promise<void> {
  const PER_CALL = 100;
  for (const [size, name] of [[64, "64B"], [4096, "4KB"]] as const) {
    const t = await measureInXs("test/xs/mqtt-entry.ts", "mqttCodecLoop", { count: PER_CALL, size }, { warmup: 5, minMs: 500 });
    emit({ bench: "mqtt", metric: `codec_publish_${name}`, unit: "packets/s", engine: "xs", mote: Math.round(t.opsPerSec * PER_CALL) });
  }
  const xs = await startXs({ bundle: await bundleForXs(join(projectRoot(), "test/xs/mqtt-entry.ts")), name: "mqtt-bench" });
  try {
    await xs.call("mqttCodecLoop", { count: 1000, size: 64 });
    const before = await xs.meters();
    await xs.call("mqttCodecLoop", { count: 100_000, size: 64 });
    const after = await xs.meters();
    emit({ bench: "mqtt", metric: "codec_xs_heap_before_100k", unit: "bytes", engine: "xs", mote: before.heapBytes });
    emit({ bench: "mqtt", metric: "codec_xs_heap_after_100k", unit: "bytes", engine: "xs", mote: after.heapBytes, peer: "before", peer_value: before.heapBytes, ratio: +(before.heapBytes / after.heapBytes).toFixed(3) });
  } finally {
    await xs.close();
  }
}

/** The client inside XS against mosquitto: XS heap of a connected, subscribed client; QoS 1 publish rate through the bridge. */
async function clientInXs(emit: Emit): Promise<void> {
  const { startMosquitto } = await import("../test/helpers/mosquitto.js");
  const broker = await startMosquitto();
  const xs = await startXs({ bundle: await bundleForXs(join(projectRoot(), "test/xs/mqtt-entry.ts")), name: "mqtt-client-bench" });
  try {
    const idle = await xs.meters();
    const r = (await xs.call("mqttStart", { port: broker.port, version: 5 })) as { got?: string[]; error?: string };
    if (r.error) throw new Error(r.error);
    const connectedHeap = await xs.meters();
    emit({ bench: "mqtt", metric: "client_xs_heap_connected", unit: "bytes", engine: "xs", mote: connectedHeap.heapBytes - idle.heapBytes });
    const N = 2000;
    const ms = (await xs.call("mqttPublishMany", { count: N, qos: 1, window: 16 })) as number;
    const after = await xs.meters();
    emit({ bench: "mqtt", metric: "qos1_throughput_mosquitto_64B", unit: "messages/s", engine: "xs", mote: Math.round((N * 1000) / ms) });
    emit({ bench: "mqtt", metric: "client_xs_heap_after_2k_publishes", unit: "bytes", engine: "xs", mote: after.heapBytes - idle.heapBytes, peer: "connected", peer_value: connectedHeap.heapBytes - idle.heapBytes });
    await xs.call("mqttEnd");
  } finally {
    await xs.close();
    await broker.close();
  }
}

/** Publishes `n` messages keeping at most `window` unacknowledged; resolves with messages/s. */
async function pump(publish: (i: number) => Promise<unknown>, n: number, window: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const lanes: Promise<void>[] = [];
  for (let l = 0; l < window; l++) {
    lanes.push(
      (async () => {
        while (next < n) await publish(next++);
      })(),
    );
  }
  await Promise.all(lanes);
  return (n * 1000) / (performance.now() - t0);
}

/**
 * QoS 1, 10k x 64 B to a local mosquitto: our client vs MQTT.js, same broker, like with like:
 * the same payload and topic length, at most WINDOW messages unacknowledged for both (the
 * pump's lanes; MQTT.js has no window of its own), and both promises resolve at the PUBACK.
 * Rounds alternate; the best of three of each counts. Also the client's own CPU time per
 * message (user + system, this process; the broker is another), from the same rounds.
 */
export async function throughput(emit: Emit): Promise<void> {
  const { startMosquitto } = await import("../test/helpers/mosquitto.js");
  const { connect } = await import("../src/mqtt/index.js");
  const mqttjs = (await import("mqtt")).default;
  const broker = await startMosquitto();
  const N = 10_000;
  const WINDOW = 32;
  const payload = new Uint8Array(64).fill(0x62);
  try {
    const ours = connect({ host: "127.0.0.1", port: broker.port, protocolVersion: 4, clientId: "bench-mote", maxInflight: WINDOW, reconnect: false });
    await new Promise<void>((resolve, reject) => {
      ours.on("connect", () => resolve());
      ours.on("error", (e) => reject(e));
    });
    const theirs = await mqttjs.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 4, clientId: "bench-js", reconnectPeriod: 0 });
    const jsPayload = Buffer.from(payload);
    const moteRound = () => pump(() => ours.publish("bench/mote", payload, { qos: 1 }), N, WINDOW);
    const peerRound = () => pump(() => theirs.publishAsync("bench/js", jsPayload, { qos: 1 }), N, WINDOW);
    /** messages/s and CPU µs per message of one round */
    const timed = async (round: () => Promise<number>): Promise<[number, number]> => {
      const c0 = process.cpuUsage();
      const rate = await round();
      const c = process.cpuUsage(c0);
      return [rate, (c.user + c.system) / N];
    };
    // warm both up, then measure alternately and keep the best of three
    await pump(() => ours.publish("bench/mote", payload, { qos: 1 }), 1000, WINDOW);
    await pump(() => theirs.publishAsync("bench/js", jsPayload, { qos: 1 }), 1000, WINDOW);
    let mote = 0;
    let peer = 0;
    let moteCpu = Infinity;
    let peerCpu = Infinity;
    for (let r = 0; r < 3; r++) {
      const [m, mc] = await timed(moteRound);
      const [p, pc] = await timed(peerRound);
      mote = Math.max(mote, m);
      peer = Math.max(peer, p);
      moteCpu = Math.min(moteCpu, mc);
      peerCpu = Math.min(peerCpu, pc);
    }
    emit({ bench: "mqtt", metric: "qos1_throughput_mosquitto_64B", unit: "messages/s", mote: Math.round(mote), peer: "mqtt.js", peer_value: Math.round(peer), ratio: +(mote / peer).toFixed(2) });
    // less is better: ratio = peer / mote
    emit({ bench: "mqtt", metric: "qos1_client_cpu_per_message", unit: "µs", mote: +moteCpu.toFixed(1), peer: "mqtt.js", peer_value: +peerCpu.toFixed(1), ratio: +(peerCpu / moteCpu).toFixed(2) });
    await ours.end();
    await theirs.endAsync();
  } finally {
    await broker.close();
  }
}

// `npx tsx bench/mqtt.ts` / `node --experimental-strip-types` run: print the JSON lines
if (import.meta.url === `file://${process.argv[1]}`) {
  void run((f) => console.log(JSON.stringify(f)));
}
