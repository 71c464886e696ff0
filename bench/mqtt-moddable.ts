/**
 * MQTT on Moddable's own runtime (mcconfig -m -i -p lin, run headless by mchost), the
 * engine that goes on the chip; issue 17's rows for the device engine.
 *   npm run bench -- mqtt-moddable [--json]
 *
 * 1. Publish throughput, 64 B payload, to one mosquitto, in one program
 *    (bench/mqtt-moddable-entry.ts) holding three clients: mote's (the preloaded
 *    `mote/mqtt` library, RAM session), Moddable's ECMA-419 client
 *    (examples/io/tcp/mqttclient) at QoS 0 and Moddable's `mqtt/js` wrapper
 *    (examples/io/tcp/mqtt) at QoS 1. Rounds alternate their order; figures are
 *    medians of the rounds and the median of the rounds' paired ratios. An observer
 *    (MQTT.js, Node) counts what reached the broker per topic.
 * 2. Garbage in steady telemetry: mote's device program (manifest.json, the
 *    persisted session of the default program) publishing its QoS 1 telemetry
 *    record every second, and a program on Moddable's 419 client doing the same
 *    (a JSON record of the same fields, QoS 1, every second), side by side for
 *    MOTE_BENCH_TELEMETRY_S seconds (default 60). Both are read from the
 *    "instruments:" line lin prints every second (xs/sources/xsDebug.c
 *    fxSampleInstrumentation; build/simulators/modules/screen.c resets the garbage
 *    collection count after each line): collections summed, and the heap used and
 *    allocated at the start and the end of the window.
 * 3. Garbage forwarding CoAP notifications: the device program observing a CoAP
 *    resource that notifies every MOTE_BENCH_OBSERVE_MS (default 50) and publishing each
 *    notification at QoS 0 (its `coapObserve`), telemetry off, and a hand-written program
 *    on Moddable's 419 UDP socket and MQTT client doing the same, side by side for
 *    MOTE_BENCH_OBSERVE_S seconds (default 30); collections summed as in 2.
 * Knobs: MOTE_BENCH_ROUNDS (default 9), MOTE_BENCH_Q0 / MOTE_BENCH_Q1 (messages per
 * round, default 2000 / 1000), MOTE_BENCH_TELEMETRY_S, MOTE_BENCH_OBSERVE_S,
 * MOTE_BENCH_OBSERVE_MS, MOTE_BENCH_BROKER_NODELAY, MOTE_BENCH_ONLY (throughput |
 * telemetry | observe).
 */
import { build, type Plugin } from "esbuild";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { buildManifest, buildModdable } from "../host-shim/moddable/build.js";
import { ModdableDevice, runModdable, writePreferences } from "../host-shim/moddable/run.js";
import { findModdable, type ModdableSdk } from "../host-shim/moddable/sdk.js";
import { projectRoot } from "../host-shim/xs/engine.js";
import { parseInstruments, type Instruments as Sample } from "../host-shim/moddable/instruments.js";
import { startMosquitto } from "../test/helpers/mosquitto.js";
import { startCoapServer } from "../host-shim/sim/peers.js";
import type { Emit } from "./lib.js";

const PLATFORM = "Moddable 8.2.3 lin, mcconfig -m -i";
const env = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Writes `text` to `file` only when it differs, so make's incremental build stays incremental. */
function writeIfChanged(file: string, text: string): void {
  if (!existsSync(file) || readFileSync(file, "utf8") !== text) writeFileSync(file, text);
}

// --- 1. throughput -----------------------------------------------------------

/** mote's MQTT sources resolve to the preloaded library module, as in a device app that imports "mote/mqtt". */
const moteLibrary: Plugin = {
  name: "mote-library",
  setup(b) {
    b.onResolve({ filter: /src\/mqtt\/index\.js$/ }, () => ({ path: "mote/mqtt", external: true }));
  },
};

async function throughputSource(port: number, rounds: number, q0: number, q1: number): Promise<string> {
  const dir = join(projectRoot(), ".moddable", "src", "mqtt-moddable-bench");
  mkdirSync(dir, { recursive: true });
  const r = await build({
    entryPoints: [join(projectRoot(), "bench", "mqtt-moddable-entry.ts")],
    bundle: true,
    format: "esm",
    target: "es2022",
    write: false,
    logLevel: "silent",
    plugins: [moteLibrary],
    external: ["mqtt/js", "timer", "time"],
    define: { BENCH_PORT: String(port), BENCH_ROUNDS: String(rounds), BENCH_Q0: String(q0), BENCH_Q1: String(q1) },
  });
  writeIfChanged(join(dir, "main.js"), r.outputFiles[0].text);
  const manifest = {
    include: [join(projectRoot(), "manifest_lib.json"), "$(MODDABLE)/examples/io/tcp/mqtt/manifest_mqtt.json"],
    modules: { "*": ["./main"] },
  };
  const file = join(dir, "manifest.json");
  writeIfChanged(file, JSON.stringify(manifest, null, 2));
  return file;
}

const CLIENTS = ["mote-q0", "419-q0", "mote-q1", "wrapper-q1"] as const;
const TOPICS: Record<(typeof CLIENTS)[number], string> = {
  "mote-q0": "bench/mote/q0",
  "419-q0": "bench/419/q0",
  "mote-q1": "bench/mote/q1",
  "wrapper-q1": "bench/wrapper/q1",
};

async function throughput(sdk: ModdableSdk, emit: Emit): Promise<void> {
  const rounds = env("MOTE_BENCH_ROUNDS", 9);
  const q0 = env("MOTE_BENCH_Q0", 2000);
  const q1 = env("MOTE_BENCH_Q1", 1000);
  // MOTE_BENCH_BROKER_NODELAY=1: mosquitto without Nagle (its default is set_tcp_nodelay false)
  const broker = await startMosquitto(process.env.MOTE_BENCH_BROKER_NODELAY ? { extraConfig: ["set_tcp_nodelay true"] } : {});
  const cwd = mkdtempSync(join(tmpdir(), "mote-bench-mqtt-moddable-"));
  const observer = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, clientId: "bench-observer", reconnectPeriod: 0 });
  const received: Record<string, number> = {};
  observer.on("message", (topic) => (received[topic] = (received[topic] ?? 0) + 1));
  await observer.subscribeAsync("bench/#", { qos: 0 });
  try {
    const so = await buildManifest(await throughputSource(broker.port, rounds, q0, q1), join(projectRoot(), ".moddable", "mqtt-moddable-bench"), sdk);
    const p = runModdable(so, sdk, { cwd });
    try {
      const done = await p.waitFor(/mqtt-done/, 600_000);
      if (!done.includes("ok")) throw new Error(`the program failed: ${done}\n${p.lines.slice(-20).join("\n")}`);
    } finally {
      await p.kill();
    }
    const byClient: Record<string, number[]> = {};
    for (const l of p.lines) {
      const m = /mqtt-round (\S+) (\d+)/.exec(l);
      if (m) (byClient[m[1]] ??= []).push(Number(m[2]));
    }
    // QoS 0 messages still on their way from the broker to the observer
    const expected = (c: (typeof CLIENTS)[number]) => rounds * (c.endsWith("q0") ? q0 : q1);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && CLIENTS.some((c) => (received[TOPICS[c]] ?? 0) < expected(c))) await new Promise((r) => setTimeout(r, 100));
    for (const c of ["mote-q1", "wrapper-q1"] as const)
      if ((received[TOPICS[c]] ?? 0) < expected(c)) throw new Error(`${c}: the broker passed on ${received[TOPICS[c]] ?? 0} of ${expected(c)} QoS 1 messages`);

    const pair = (mote: string, peer: string, metric: string, peerName: string, target: string, qos: 0 | 1) => {
      const m = byClient[mote] ?? [];
      const q = byClient[peer] ?? [];
      if (m.length !== rounds || q.length !== rounds) throw new Error(`rounds missing: ${mote} ${m.length}, ${peer} ${q.length} of ${rounds}`);
      // each round's pair ran back to back under the same load: their ratio is steadier than either figure
      const paired = m.map((v, i) => v / q[i]);
      emit({
        metric,
        unit: "msg/s",
        engine: "xs",
        mote: Math.round(median(m)),
        peer: peerName,
        peer_value: Math.round(median(q)),
        ratio: +(median(m) / median(q)).toFixed(2),
        median_paired_ratio: +median(paired).toFixed(2),
        target,
        rounds,
        messages_per_round: qos ? q1 : q0,
        delivered_mote: received[TOPICS[mote as (typeof CLIENTS)[number]]] ?? 0,
        delivered_peer: received[TOPICS[peer as (typeof CLIENTS)[number]]] ?? 0,
        mote_rounds: m.join(" "),
        peer_rounds: q.join(" "),
        platform: PLATFORM,
      });
    };
    pair("mote-q0", "419-q0", "publish_qos0_64B_moddable", "Moddable ECMA-419 client (examples/io/tcp/mqttclient)", "≥ 1.0×", 0);
    pair("mote-q1", "wrapper-q1", "publish_qos1_64B_moddable", "Moddable mqtt/js wrapper (examples/io/tcp/mqtt), 16 outstanding", "≥ 1.5×", 1);
  } finally {
    await observer.endAsync();
    await broker.close();
    rmSync(cwd, { recursive: true, force: true });
  }
}

// --- 2. garbage in steady telemetry -----------------------------------------

/**
 * Moddable's 419 client publishing a telemetry record every second at QoS 1: the
 * fields of mote's record (src/app/device.ts #sendTelemetry), made and serialized
 * each time as an app on that client would.
 */
function telemetryPeerSource(port: number): string {
  const dir = join(projectRoot(), ".moddable", "src", "mqttclient-telemetry");
  mkdirSync(dir, { recursive: true });
  const main = `import Timer from "timer";
const MQTTClient = device.network.mqtt.io;
const boot = Date.now();
const counters = { wifiConnects: 1, mqttConnects: 1, msgsIn: 0, msgsOut: 0, msgsDropped: 0, telemetrySent: 0, coapNotifications: 0, commands: 0, errors: 0 };
let seq = 0;
let id = 0;
new MQTTClient({
	...device.network.mqtt,
	host: "127.0.0.1",
	port: ${port},
	id: "bench-419-telemetry",
	keepalive: 60_000,
	onControl(msg) {
		if (MQTTClient.CONNACK === msg.operation) {
			trace("peer connected\\n");
			Timer.repeat(() => {
				const record = { boot: 1, seq: ++seq, version: "0.1.0", uptimeMs: Date.now() - boot, freeHeap: 0, rssi: -40, queueDepth: 0, counters, sensor: { demo: { value: seq % 100 } } };
				const data = ArrayBuffer.fromString(JSON.stringify(record));
				id = (id % 0xffff) + 1;
				this.write(data, { topic: "bench/419/telemetry", QoS: 1, id, byteLength: data.byteLength });
				counters.telemetrySent++;
			}, 1000);
		}
		if (MQTTClient.PUBACK === msg.operation) counters.msgsOut++;
	},
	onReadable(count) {
		this.read(count);
	},
	onError() {
		trace("peer error\\n");
	}
});
`;
  return peerProgram(dir, main, []);
}

/**
 * Writes a peer program's main.js and its manifest (Moddable's net, io and 419 MQTT
 * client, after the fragments in `first`) into `dir`; returns the manifest's path.
 */
function peerProgram(dir: string, main: string, first: string[]): string {
  writeIfChanged(join(dir, "main.js"), main);
  const manifest = {
    include: [
      "$(MODDABLE)/examples/manifest_base.json",
      "$(MODDABLE)/examples/manifest_net.json",
      ...first,
      "$(MODDABLE)/modules/io/manifest.json",
      "$(MODDABLE)/examples/io/tcp/mqttclient/manifest_mqttclient.json",
    ],
    modules: { "*": "./main" },
  };
  const file = join(dir, "manifest.json");
  writeIfChanged(file, JSON.stringify(manifest, null, 2));
  return file;
}

interface Window {
  collections: number;
  seconds: number;
  promises: number;
  /** slots + chunks used, bytes of this 64-bit host: first and last second of the window, and the lowest of each half */
  usedFirst: number;
  usedLast: number;
  usedLowFirstHalf: number;
  usedLowSecondHalf: number;
  /** The same low on the ESP32's terms: slots at 16 bytes (32 here), chunks as they are (an upper bound). */
  usedLowSecondHalfEsp32: number;
  allocatedFirst: number;
  allocatedLast: number;
}

function windowOf(who: string, lines: readonly string[], from: number): Window {
  // the first line after the connection also holds the connection's own collections
  const samples = lines.slice(from).map(parseInstruments).filter((s): s is Sample => s !== undefined).slice(1);
  if (samples.length < 4) throw new Error(`${who}: ${samples.length} "instruments:" lines; last lines:\n${lines.slice(-10).join("\n")}`);
  const used = samples.map((s) => s.slotsUsed + s.chunksUsed);
  const half = Math.floor(samples.length / 2);
  return {
    collections: samples.reduce((a, s) => a + s.collections, 0),
    seconds: samples.length,
    promises: samples.reduce((a, s) => a + s.promises, 0),
    usedFirst: used[0],
    usedLast: used[used.length - 1],
    usedLowFirstHalf: Math.min(...used.slice(0, half)),
    usedLowSecondHalf: Math.min(...used.slice(half)),
    usedLowSecondHalfEsp32: Math.min(...samples.slice(half).map((s) => s.slotsUsed / 2 + s.chunksUsed)),
    allocatedFirst: samples[0].slotsAllocated + samples[0].chunksAllocated,
    allocatedLast: samples[samples.length - 1].slotsAllocated + samples[samples.length - 1].chunksAllocated,
  };
}

async function garbage(sdk: ModdableSdk, emit: Emit): Promise<void> {
  const seconds = env("MOTE_BENCH_TELEMETRY_S", 60);
  const broker = await startMosquitto();
  const dir = mkdtempSync(join(tmpdir(), "mote-bench-telemetry-"));
  const peerDir = mkdtempSync(join(tmpdir(), "mote-bench-telemetry-peer-"));
  const observer = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, clientId: "bench-telemetry-observer", reconnectPeriod: 0 });
  const id = "bench-lin-telemetry";
  let moteMessages = 0;
  let peerMessages = 0;
  let moteBytes = 0;
  let peerBytes = 0;
  observer.on("message", (topic, payload) => {
    if (topic === `mote/${id}/telemetry`) (moteMessages++, (moteBytes = payload.length));
    if (topic === "bench/419/telemetry") (peerMessages++, (peerBytes = payload.length));
  });
  await observer.subscribeAsync([`mote/${id}/telemetry`, "bench/419/telemetry"], { qos: 1 });
  let device: ModdableDevice | undefined;
  let peer: ReturnType<typeof runModdable> | undefined;
  try {
    // MOTE_BENCH_DEVICE_ROOT: a copy of the project (manifests, boards/, dist/) changed for an experiment
    const root = process.env.MOTE_BENCH_DEVICE_ROOT;
    const so = await buildModdable("device", sdk, root ? { root } : {});
    const peerSo = await buildManifest(telemetryPeerSource(broker.port), join(projectRoot(), ".moddable", "mqttclient-telemetry"), sdk);
    writePreferences(dir, { mote: { ssid: "lab", password: "secret-pass", broker: `mqtt://127.0.0.1:${broker.port}`, clientId: id, telemetryMs: env("MOTE_BENCH_TELEMETRY_MS", 1000) } });
    // side by side: each process counts its own collections; the load is the same for both
    // MOTE_LOG=1: the device's lines on stderr (diagnosis, with MOTE_BENCH_DEVICE_ROOT)
    device = new ModdableDevice(so, sdk, dir, { onLine: process.env.MOTE_LOG ? (l) => console.error(`[lin] ${l}`) : undefined });
    device.start();
    peer = runModdable(peerSo, sdk, { cwd: peerDir });
    await Promise.all([device.waitFor(/mqtt connected/, 60_000), peer.waitFor(/peer connected/, 60_000)]);
    // from the line after each connection
    const moteFrom = device.lines.length;
    const peerFrom = peer.lines.length;
    const moteAtStart = moteMessages;
    const peerAtStart = peerMessages;
    // The collection count restarts at each "instruments:" line, so the lines' sum is every
    // collection of the window even when a second printed none. Stopping the runtimes
    // flushes their stdout: every line is in.
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const sent = { mote: moteMessages - moteAtStart, peer: peerMessages - peerAtStart };
    await device.stop();
    await peer.kill();
    const m = windowOf("mote", device.lines, moteFrom);
    const q = windowOf("peer", peer.lines, peerFrom);
    // MOTE_BENCH_TELEMETRY_MS (diagnosis): another period for mote, e.g. 3600000 for the idle program's garbage
    if ((sent.mote < seconds / 2 && !process.env.MOTE_BENCH_TELEMETRY_MS) || sent.peer < seconds / 2) throw new Error(`telemetry did not flow: mote ${sent.mote}, peer ${sent.peer} in ${seconds} s`);
    const peerName = "Moddable ECMA-419 client (examples/io/tcp/mqttclient), the same record every second at QoS 1";
    emit({
      metric: `telemetry_collections_${seconds}s_moddable`,
      unit: "collections",
      engine: "xs",
      mote: m.collections,
      peer: peerName,
      peer_value: q.collections,
      // smaller is better: > 1 means mote collects less; the target is ≥ 0.5 (no more than 2× the peer's)
      ratio: +(q.collections / Math.max(m.collections, 1)).toFixed(2),
      target: "≤ 2× the peer's collections (ratio ≥ 0.5)",
      per_message: +(m.collections / sent.mote).toFixed(2),
      peer_per_message: +(q.collections / sent.peer).toFixed(2),
      samples: m.seconds,
      peer_samples: q.seconds,
      promises_settled: m.promises,
      peer_promises_settled: q.promises,
      messages: sent.mote,
      peer_messages: sent.peer,
      record_bytes: moteBytes,
      peer_record_bytes: peerBytes,
      platform: PLATFORM,
    });
    emit({
      metric: `telemetry_heap_used_lows_${seconds}s_moddable`,
      unit: "bytes",
      engine: "xs",
      // the lowest "used" of each half of the window (right after a collection): flat = equal
      mote: m.usedLowSecondHalf,
      mote_first_half: m.usedLowFirstHalf,
      growth: m.usedLowSecondHalf - m.usedLowFirstHalf,
      peer: peerName,
      peer_value: q.usedLowSecondHalf,
      peer_first_half: q.usedLowFirstHalf,
      peer_growth: q.usedLowSecondHalf - q.usedLowFirstHalf,
      allocated_first: m.allocatedFirst,
      allocated_last: m.allocatedLast,
      peer_allocated_first: q.allocatedFirst,
      peer_allocated_last: q.allocatedLast,
      note: "slots + chunks of this 64-bit host (32-byte slots), as the instruments line gives them",
      platform: PLATFORM,
    });
  } finally {
    await device?.stop();
    await peer?.kill();
    await observer.endAsync();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(peerDir, { recursive: true, force: true });
  }
}

// --- 3. garbage forwarding CoAP notifications --------------------------------

/**
 * A program written by hand on Moddable's ECMA-419 sockets doing what mote's device
 * program does with a configured `coapObserve`: observes coap://…/sensor (RFC 7641
 * GET with Observe 0), acknowledges a confirmable notification (RFC 7252 §4.2), and
 * publishes each payload at QoS 0 through Moddable's 419 MQTT client.
 */
function observePeerSource(mqttPort: number, coapPort: number): string {
  const dir = join(projectRoot(), ".moddable", "src", "mqttclient-observe");
  mkdirSync(dir, { recursive: true });
  const main = `import UDP from "embedded:io/socket/udp";
const MQTTClient = device.network.mqtt.io;
let mqttClient;
let forwarded = 0;
const udp = new UDP({
	onReadable(count) {
		while (count--) {
			const d = new Uint8Array(this.read());
			const type = (d[0] >> 4) & 3, tkl = d[0] & 15;
			if (0 === type) this.write(Uint8Array.of(0x60, 0, d[2], d[3]).buffer, "127.0.0.1", ${coapPort}); // ACK a CON
			let o = 4 + tkl;
			while (o < d.length && 0xff !== d[o]) {
				let delta = d[o] >> 4, length = d[o] & 15;
				o++;
				if (13 === delta) o += 1; else if (14 === delta) o += 2;
				if (13 === length) length = d[o++] + 13; else if (14 === length) { length = ((d[o] << 8) | d[o + 1]) + 269; o += 2; }
				o += length;
			}
			if (o >= d.length || !mqttClient) continue;
			const payload = d.slice(o + 1).buffer;
			mqttClient.write(payload, { topic: "bench/419/coap/sensor", QoS: 0, byteLength: payload.byteLength });
			forwarded++;
		}
	}
});
new MQTTClient({
	...device.network.mqtt,
	host: "127.0.0.1",
	port: ${mqttPort},
	id: "bench-419-observe",
	keepalive: 60_000,
	onControl(msg) {
		if (MQTTClient.CONNACK !== msg.operation) return;
		mqttClient = this;
		trace("peer connected\\n");
		// CON GET, message id 1, token 0x42, Observe 0 (option 6, empty), Uri-Path "sensor" (option 11)
		udp.write(Uint8Array.of(0x41, 0x01, 0x00, 0x01, 0x42, 0x60, 0x56, 0x73, 0x65, 0x6e, 0x73, 0x6f, 0x72).buffer, "127.0.0.1", ${coapPort});
	},
	onReadable(count) {
		this.read(count);
	},
	onError() {
		trace("peer error\\n");
	}
});
`;
  // the same UDP socket as mote's lin build (manifest_host.json): woken per datagram, not polled
  return peerProgram(dir, main, ["$(MOTE)/boards/desktop/manifest_udp.json"]);
}

async function observeGarbage(sdk: ModdableSdk, emit: Emit): Promise<void> {
  const seconds = env("MOTE_BENCH_OBSERVE_S", 30);
  const periodMs = env("MOTE_BENCH_OBSERVE_MS", 50);
  const broker = await startMosquitto();
  const coapServer = await startCoapServer({ sensorPeriodMs: periodMs });
  const dir = mkdtempSync(join(tmpdir(), "mote-bench-observe-"));
  const peerDir = mkdtempSync(join(tmpdir(), "mote-bench-observe-peer-"));
  const observer = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, clientId: "bench-observe-observer", reconnectPeriod: 0 });
  const id = "bench-lin-observe";
  const moteTopic = `mote/${id}/coap/sensor`;
  const peerTopic = "bench/419/coap/sensor";
  const seen = { mote: 0, peer: 0 };
  observer.on("message", (topic) => {
    if (topic === moteTopic) seen.mote++;
    if (topic === peerTopic) seen.peer++;
  });
  await observer.subscribeAsync([moteTopic, peerTopic], { qos: 0 });
  let device: ModdableDevice | undefined;
  let peer: ReturnType<typeof runModdable> | undefined;
  try {
    const root = process.env.MOTE_BENCH_DEVICE_ROOT;
    const so = await buildModdable("device", sdk, root ? { root } : {});
    const peerSo = await buildManifest(observePeerSource(broker.port, coapServer.port), join(projectRoot(), ".moddable", "mqttclient-observe"), sdk);
    // telemetry once an hour: in the window, the notifications are all the program does
    writePreferences(dir, {
      mote: { ssid: "lab", password: "secret-pass", broker: `mqtt://127.0.0.1:${broker.port}`, clientId: id, telemetryMs: 3_600_000, coapObserve: `${coapServer.url}/sensor` },
    });
    device = new ModdableDevice(so, sdk, dir, { onLine: process.env.MOTE_LOG ? (l) => console.error(`[lin] ${l}`) : undefined });
    device.start();
    peer = runModdable(peerSo, sdk, { cwd: peerDir });
    await Promise.all([device.waitFor(/mqtt connected/, 60_000), peer.waitFor(/peer connected/, 60_000)]);
    await new Promise((r) => setTimeout(r, 2000)); // both observations registered, the connect's own work done
    const moteFrom = device.lines.length;
    const peerFrom = peer.lines.length;
    const at = { ...seen };
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const sent = { mote: seen.mote - at.mote, peer: seen.peer - at.peer };
    await device.stop();
    await peer.kill();
    const m = windowOf("mote", device.lines, moteFrom);
    const q = windowOf("peer", peer.lines, peerFrom);
    const expected = (seconds * 1000) / periodMs / 2;
    if (sent.mote < expected || sent.peer < expected) throw new Error(`notifications did not flow: mote ${sent.mote}, peer ${sent.peer} in ${seconds} s (at least ${expected})`);
    emit({
      metric: `observe_collections_${seconds}s_moddable`,
      unit: "collections",
      engine: "xs",
      mote: m.collections,
      peer: `a hand-written program on Moddable's 419 UDP socket and MQTT client: observe, ACK, publish QoS 0 (a notification every ${periodMs} ms)`,
      peer_value: q.collections,
      // smaller is better: > 1 means mote collects less
      ratio: +(q.collections / Math.max(m.collections, 1)).toFixed(2),
      per_100_notifications: +((100 * m.collections) / sent.mote).toFixed(2),
      peer_per_100_notifications: +((100 * q.collections) / sent.peer).toFixed(2),
      notifications: sent.mote,
      peer_notifications: sent.peer,
      samples: m.seconds,
      used_low_second_half: m.usedLowSecondHalf,
      used_low_first_half: m.usedLowFirstHalf,
      used_low_second_half_esp32: m.usedLowSecondHalfEsp32,
      peer_used_low_second_half: q.usedLowSecondHalf,
      peer_used_low_second_half_esp32: q.usedLowSecondHalfEsp32,
      allocated_last: m.allocatedLast,
      peer_allocated_last: q.allocatedLast,
      platform: PLATFORM,
    });
  } finally {
    await device?.stop();
    await peer?.kill();
    await observer.endAsync();
    await coapServer.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(peerDir, { recursive: true, force: true });
  }
}

export async function run(emit: Emit): Promise<void> {
  const sdk = findModdable();
  if (typeof sdk === "string") throw new Error(sdk);
  const only = process.env.MOTE_BENCH_ONLY; // "throughput" | "telemetry" | "observe": one part while working on it
  if (only === undefined || only === "throughput") await throughput(sdk, emit);
  if (only === undefined || only === "telemetry") await garbage(sdk, emit);
  if (only === undefined || only === "observe") await observeGarbage(sdk, emit);
}
