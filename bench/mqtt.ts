/**
 * `npm run bench -- mqtt`: MQTT figures, each against a peer measured in the same run.
 *  - codec: PUBLISH encode+decode (16-byte topic; 64 B and 4 KB payloads) vs mqtt-packet generate+parse
 *  - codec allocations per packet (heap growth per op, estimate) vs mqtt-packet
 *  - minified size of an MQTT-only device bundle (src/mqtt/index.ts, host modules external)
 *  - QoS 1 throughput to mosquitto, 10k x 64 B, vs MQTT.js (when mosquitto and the platform twins exist)
 */
import mqttPacket from "mqtt-packet";
import { readFileSync } from "node:fs";
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

/** Heap growth per op over short bursts (no GC in between); the smallest of a few tries. */
function bytesPerOp(fn: () => void, ops = 2000): number {
  let best = Infinity;
  for (let tries = 0; tries < 8; tries++) {
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < ops; i++) fn();
    const grown = process.memoryUsage().heapUsed - before;
    if (grown >= 0) best = Math.min(best, grown / ops);
  }
  return best === Infinity ? NaN : Math.round(best);
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
  parser.on("packet", (p: { payload: Buffer }) => (sink += p.payload.length));
  const peer = () => {
    parser.parse(mqttPacket.generate(peerPacket));
  };
  void sink;
  return { ours, peer };
}

async function bundleSize(): Promise<number> {
  const esbuild = await import("esbuild");
  const modules = JSON.parse(readFileSync(new URL("../host-shim/modules.json", import.meta.url), "utf8")) as Record<string, string>;
  const external = Object.keys(modules).filter((k) => k !== "//");
  const r = await esbuild.build({
    entryPoints: [new URL("../src/mqtt/index.ts", import.meta.url).pathname],
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
    const size = await bundleSize();
    emit({ bench: "mqtt", metric: "bundle_minified", unit: "bytes", mote: size, peer: "target", peer_value: 12_288, ratio: +(12_288 / size).toFixed(2) });
  } catch (e) {
    emit({ bench: "mqtt", metric: "bundle_minified", unit: "bytes", mote: NaN, peer: `unavailable: ${String(e).slice(0, 80)}` });
  }
  try {
    const { runThroughput } = await import("./mqtt-throughput.js");
    await runThroughput(emit);
  } catch (e) {
    emit({ bench: "mqtt", metric: "qos1_throughput_mosquitto", unit: "messages/s", mote: NaN, peer: `unavailable: ${String(e).slice(0, 120)}` });
  }
}

// `npx tsx bench/mqtt.ts` / `node --experimental-strip-types` run: print the JSON lines
if (import.meta.url === `file://${process.argv[1]}`) {
  void run((f) => console.log(JSON.stringify(f)));
}
