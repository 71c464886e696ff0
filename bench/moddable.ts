/**
 * The XS heap and stack of the device program on Moddable's own runtime: built by the
 * real `mcconfig -m -i -p lin` (host-shim/moddable/build.ts), booted headless against
 * mosquitto, figures from Moddable's instrumentation (docs/moddable.md#heap).
 *   npm run bench -- moddable [--json]
 *
 * - live heap after boot: the device is online and has published telemetry; a ping
 *   with {"gc": true} collects garbage and reports "XS Slot Heap Used" and "XS Chunk
 *   Heap Used". Slots scaled to the ESP32 (16 bytes per slot, 32 on this 64-bit host);
 *   chunks unscaled (an upper bound: most of a chunk is bytes, not pointers). Budget:
 *   ≤ 96 KB slots + chunks.
 * - peak stack: the largest "Stack used" of the whole run (boot, telemetry, a ping,
 *   a CoAP GET from libcoap through the `coap` command: the deepest path measured),
 *   against the manifest's creation.stack; also per path (each "instruments:" line
 *   holds the peak of its second): boot up to the MQTT connection, MQTT + telemetry
 *   after it, the ping command, the CoAP command; held against Moddable's ESP32
 *   default of 384 slots.
 * - allocated heap: the "instruments:" line lin prints every second
 *   (xs/sources/xsDebug.c fxSampleInstrumentation: chunks used/allocated, slots
 *   used/allocated, stack peak/size, ...), read 5 s after the MQTT connection —
 *   the RAM the machine holds, garbage included. Peer: Moddable's own ECMA-419 MQTT
 *   client example (examples/io/tcp/mqttclient: connect, subscribe, publish at QoS
 *   0/1/2) built and measured the same way against the same broker.
 * - MQTT over TLS (tls_* metrics): the device program on `mqtts://` through
 *   mosquitto's TLS listener, with a test CA made by openssl (RSA 2048) as its
 *   `mqttCa` (PEM; checked by Moddable's ssl modules); figures 5 s after the MQTT
 *   connection (telemetry every second meanwhile). Peer: Moddable's own
 *   examples/io/tcp/mqttsclient (its tlssocket, the same ssl modules) with the same
 *   CA as a DER `secure.certificate`, against the same listener; it is built with a
 *   larger stack, as its default overflows in the handshake.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import mqtt from "mqtt";
import { buildManifest, buildModdable } from "../host-shim/moddable/build.js";
import { ModdableDevice, runModdable, writePreferences } from "../host-shim/moddable/run.js";
import { findModdable, type ModdableSdk } from "../host-shim/moddable/sdk.js";
import { esp32Bytes, parseInstruments, SLOT_BYTES_LIN64, type Instruments as Sample } from "../host-shim/moddable/instruments.js";
import { projectRoot } from "../host-shim/xs/engine.js";
import { startLibcoapServer } from "../test/helpers/libcoap.js";
import { freePort, makeTlsFiles, startMosquitto, tlsListener } from "../test/helpers/mosquitto.js";
import type { Emit } from "./lib.js";

const SLOT_64 = SLOT_BYTES_LIN64;
const BUDGET = 96 * 1024;
const SETTLE_MS = 5_000;
/** Stack slots the TLS peer is built with (see tlsPeerSource). */
const PEER_TLS_STACK = 2048;

/**
 * The `creation.stack` mcconfig gives the program of `manifest`: its own, else the
 * first found in its local includes ("./…", depth first, as mcconfig merges them),
 * else Moddable's default, 384.
 */
function creationStack(manifest: string, depth = 0): number {
  const m = JSON.parse(readFileSync(manifest, "utf8")) as { creation?: { stack?: number }; include?: string | string[] };
  if (typeof m.creation?.stack === "number") return m.creation.stack;
  const includes = typeof m.include === "string" ? [m.include] : (m.include ?? []);
  for (const inc of includes) {
    if (!inc.startsWith("./") || depth > 4) continue;
    const stack = creationStack(join(dirname(manifest), inc), depth + 1);
    if (stack !== 384) return stack;
  }
  return 384;
}

/** Polls `cond` every 50 ms for up to `ms`; the caller says what it means when it stays false. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return cond();
}

async function sampleAfter(lines: () => readonly string[], from: number, ms: number): Promise<Sample> {
  await new Promise((r) => setTimeout(r, ms));
  const all = lines();
  for (let i = all.length - 1; i >= from; i--) {
    const s = parseInstruments(all[i]);
    if (s) return s;
  }
  throw new Error(`no "instruments:" line in ${ms} ms (an -i build prints one a second); last lines:\n${all.slice(-10).join("\n")}`);
}

function maxStack(lines: readonly string[]): number {
  let max = 0;
  for (const l of lines) max = Math.max(max, parseInstruments(l)?.stackPeak ?? 0);
  return max;
}

/** Moddable's examples/io/tcp/mqttclient, pointed at the bench broker (its own host is on the internet). */
function peerSource(sdk: ModdableSdk, port: number): string {
  const from = join(sdk.home, "examples", "io", "tcp", "mqttclient");
  if (!existsSync(join(from, "main.js"))) throw new Error(`${from}: Moddable's mqttclient example is missing`);
  const to = join(projectRoot(), ".moddable", "src", "mqttclient");
  cpSync(from, to, { recursive: true });
  const main = readFileSync(join(from, "main.js"), "utf8");
  const patched = main.replace('host: "test.mosquitto.org"', 'host: "127.0.0.1"').replace("port: 1883", `port: ${port}`);
  if (patched === main) throw new Error("examples/io/tcp/mqttclient/main.js changed: cannot point it at the bench broker");
  // write only when it differs, so make's incremental build stays incremental
  const target = join(to, "main.js");
  if (!existsSync(target) || readFileSync(target, "utf8") !== patched) writeFileSync(target, patched);
  return join(to, "manifest.json");
}

/**
 * Moddable's examples/io/tcp/mqttsclient (and the tlssocket folder its manifest
 * includes by a relative path), pointed at the bench's TLS listener and given the
 * test CA as a DER ArrayBuffer in `socket.secure.certificate` (its TLSSocket hands
 * `secure` to ssl/session, whose CertificateManager registers that certificate).
 */
function tlsPeerSource(sdk: ModdableSdk, port: number, caDer: Uint8Array): string {
  const examples = join(sdk.home, "examples", "io", "tcp");
  const base = join(projectRoot(), ".moddable", "src");
  for (const name of ["mqttsclient", "tlssocket"]) {
    if (!existsSync(join(examples, name, "manifest.json"))) throw new Error(`${join(examples, name)}: Moddable's example is missing`);
    cpSync(join(examples, name), join(base, name), { recursive: true });
  }
  const main = readFileSync(join(examples, "mqttsclient", "main.js"), "utf8");
  const patched = main
    .replace("new MQTTClient({", `const certificate = Uint8Array.of(${Array.from(caDer).join(",")}).buffer;\nnew MQTTClient({`)
    .replace('host: "broker.hivemq.com"', "socket: { ...device.network.mqtts.socket, secure: { certificate } },\n\thost: \"127.0.0.1\"")
    .replace("port: 8883", `port: ${port}`)
    // Its 16 KB streamed publish writes past what the TLS socket takes against a local
    // broker ("would block", an unhandled exception): the connection is measured, not that.
    .replace("this.remain = 16 * 1024;", "this.remain = 0;");
  if (!patched.includes("secure: { certificate }") || !patched.includes(`port: ${port}`) || !patched.includes("this.remain = 0;")) throw new Error("examples/io/tcp/mqttsclient/main.js changed: cannot point it at the bench broker");
  const target = join(base, "mqttsclient", "main.js");
  if (!existsSync(target) || readFileSync(target, "utf8") !== patched) writeFileSync(target, patched);
  // Moddable's default stack (384 slots) overflows in its own TLS handshake on lin: give it room to be measured.
  const manifestPath = join(base, "mqttsclient", "manifest.json");
  const manifest = JSON.parse(readFileSync(join(examples, "mqttsclient", "manifest.json"), "utf8")) as Record<string, unknown>;
  const withStack = JSON.stringify({ ...manifest, creation: { stack: PEER_TLS_STACK } }, null, 2);
  if (readFileSync(manifestPath, "utf8") !== withStack) writeFileSync(manifestPath, withStack);
  return manifestPath;
}

/** MQTT over TLS: mote's device program (mqtts:// + mqttCa) and Moddable's mqttsclient, same listener, same CA. */
async function tlsFigures(sdk: ModdableSdk, emit: Emit, stackSlots: number, common: Record<string, string>): Promise<void> {
  const certDir = mkdtempSync(join(tmpdir(), "mote-bench-tls-"));
  const dir = mkdtempSync(join(tmpdir(), "mote-bench-tls-device-"));
  const peerDir = mkdtempSync(join(tmpdir(), "mote-bench-mqttsclient-"));
  const files = makeTlsFiles(certDir);
  const tlsPort = await freePort();
  const broker = await startMosquitto({ extraConfig: tlsListener(tlsPort, files, files.serverCert, files.serverKey) });
  const observer = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, clientId: "bench-tls-observer", reconnectPeriod: 0 });
  let device: ModdableDevice | undefined;
  try {
    const id = "bench-lin-tls";
    let telemetry = 0;
    observer.on("message", (topic) => {
      if (topic === `mote/${id}/telemetry`) telemetry++;
    });
    await observer.subscribeAsync(`mote/${id}/#`, { qos: 1 });
    const so = await buildModdable("device", sdk);
    writePreferences(dir, {
      mote: { ssid: "lab", password: "secret-pass", broker: `mqtts://127.0.0.1:${tlsPort}`, clientId: id, telemetryMs: 1000, mqttCa: readFileSync(files.caPem, "utf8") },
    });
    device = new ModdableDevice(so, sdk, dir);
    device.start();
    await device.waitFor(/mqtt connected/, 60_000);
    const connected = device.lines.length;
    const sample = await sampleAfter(() => device!.lines, connected, SETTLE_MS);
    if (telemetry === 0) throw new Error("the device published no telemetry over TLS");
    const stackPeak = maxStack(device.lines);
    await device.stop();
    device = undefined;

    const peerSo = await buildManifest(tlsPeerSource(sdk, tlsPort, new Uint8Array(readFileSync(files.caDer))), join(projectRoot(), ".moddable", "mqttsclient"), sdk);
    const peer = runModdable(peerSo, sdk, { cwd: peerDir });
    let peerSample: Sample;
    let peerStackPeak: number;
    try {
      await peer.waitFor(/SUBACK/, 60_000);
      peerSample = await sampleAfter(() => peer.lines, 0, SETTLE_MS);
      peerStackPeak = maxStack(peer.lines);
    } finally {
      await peer.kill();
    }

    const allocated = (x: Sample) => esp32Bytes(x.slotsAllocated, x.chunksAllocated);
    const used = (x: Sample) => esp32Bytes(x.slotsUsed, x.chunksUsed);
    const peerName = "Moddable examples/io/tcp/mqttsclient";
    const note = `RSA 2048 test CA; peer built with creation.stack ${PEER_TLS_STACK} (its default 384 overflows in the handshake)`;
    emit({
      metric: "tls_stack_peak",
      unit: "slots",
      mote: stackPeak / SLOT_64,
      peer: peerName,
      peer_value: peerStackPeak / SLOT_64,
      ratio: peerStackPeak / stackPeak,
      stack_size: stackSlots,
      within_stack: stackPeak / SLOT_64 < stackSlots,
      margin_slots: stackSlots - stackPeak / SLOT_64,
      note,
      ...common,
    });
    emit({
      metric: "tls_allocated_heap_5s_after_connect_esp32",
      unit: "bytes",
      mote: allocated(sample),
      peer: peerName,
      peer_value: allocated(peerSample),
      ratio: allocated(peerSample) / allocated(sample),
      note,
      ...common,
    });
    emit({
      metric: "tls_used_heap_5s_after_connect_esp32",
      unit: "bytes",
      mote: used(sample),
      peer: peerName,
      peer_value: used(peerSample),
      ratio: used(peerSample) / used(sample),
      note,
      ...common,
    });
  } finally {
    await device?.stop();
    await observer.endAsync();
    await broker.close();
    for (const d of [certDir, dir, peerDir]) rmSync(d, { recursive: true, force: true });
  }
}

export async function run(emit: Emit): Promise<void> {
  const sdk = findModdable();
  if (typeof sdk === "string") throw new Error(sdk);
  const so = await buildModdable("device", sdk);
  const stackSlots = creationStack(join(projectRoot(), "manifest.json"));
  const broker = await startMosquitto();
  const coap = await startLibcoapServer();
  const dir = mkdtempSync(join(tmpdir(), "mote-bench-moddable-"));
  const peerDir = mkdtempSync(join(tmpdir(), "mote-bench-mqttclient-"));
  const observer = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, clientId: "bench-observer", reconnectPeriod: 0 });
  let device: ModdableDevice | undefined;
  try {
    // --- mote's device program
    const id = "bench-lin-1";
    writePreferences(dir, { mote: { ssid: "lab", password: "secret-pass", broker: `mqtt://127.0.0.1:${broker.port}`, clientId: id, telemetryMs: 1000 } });
    const pongs: Record<string, unknown>[] = [];
    let telemetry = 0;
    let coapResults = 0;
    observer.on("message", (topic, payload) => {
      if (topic === `mote/${id}/telemetry`) telemetry++;
      if (topic.startsWith(`mote/${id}/coap/`)) coapResults++;
      if (topic === `mote/${id}/pong`) pongs.push(JSON.parse(payload.toString()) as Record<string, unknown>);
    });
    await observer.subscribeAsync(`mote/${id}/#`, { qos: 1 });
    device = new ModdableDevice(so, sdk, dir);
    device.start();
    await device.waitFor(/mqtt connected/, 30_000);
    const from = device.lines.length;
    const sample = await sampleAfter(() => device!.lines, from, SETTLE_MS);
    if (telemetry === 0) throw new Error("the device published no telemetry");
    // Each "instruments:" line holds the peak of its second: the lines of each phase tell its path's peak.
    const stackBoot = maxStack(device.lines.slice(0, from + 1));
    const stackMqttTelemetry = maxStack(device.lines.slice(from + 1));
    const pingFrom = device.lines.length;
    await observer.publishAsync(`mote/${id}/cmd/ping`, JSON.stringify({ id: "gc", gc: true }), { qos: 1 });
    await until(() => pongs.some((p) => p.id === "gc"), 10_000);
    await new Promise((r) => setTimeout(r, 1500)); // the next "instruments:" line covers the command
    const stackPing = maxStack(device.lines.slice(pingFrom));
    const coapFrom = device.lines.length;
    const pong = pongs.find((p) => p.id === "gc");
    const xs = pong?.xs as { slots: number; chunks: number; stack: number } | undefined;
    if (!xs) throw new Error(`no pong with the XS heap; device said:\n${device.lines.slice(-20).join("\n")}`);
    await observer.publishAsync(`mote/${id}/cmd/coap`, JSON.stringify({ uri: `${coap.url}/time` }), { qos: 1 });
    if (!(await until(() => coapResults > 0, 10_000))) throw new Error(`no CoAP result; device said:\n${device.lines.slice(-20).join("\n")}`);
    await new Promise((r) => setTimeout(r, 1500)); // the next "instruments:" line covers the exchange
    const stackPeak = maxStack(device.lines);
    const stackCoap = maxStack(device.lines.slice(coapFrom));
    await device.stop();
    device = undefined;

    // --- the peer: Moddable's own MQTT client example, same build, same broker
    const peerSo = await buildManifest(peerSource(sdk, broker.port), join(projectRoot(), ".moddable", "mqttclient"), sdk);
    const peer = runModdable(peerSo, sdk, { cwd: peerDir });
    let peerSample: Sample;
    let peerStackPeak: number;
    try {
      await peer.waitFor(/SUBACK/, 30_000);
      peerSample = await sampleAfter(() => peer.lines, 0, SETTLE_MS);
      peerStackPeak = maxStack(peer.lines);
    } finally {
      await peer.kill();
    }

    const live32 = esp32Bytes(xs.slots, xs.chunks);
    const allocated = (s: Sample) => esp32Bytes(s.slotsAllocated, s.chunksAllocated);
    const used = (s: Sample) => esp32Bytes(s.slotsUsed, s.chunksUsed);
    const common = { engine: "xs" as const, platform: "Moddable 8.2.3 lin, mcconfig -m -i" };
    emit({ metric: "live_heap_after_boot_esp32", unit: "bytes", mote: live32, budget: BUDGET, within_budget: live32 <= BUDGET, slots_esp32: esp32Bytes(xs.slots, 0), chunks: xs.chunks, slots_lin64: xs.slots, ...common });
    emit({ metric: "live_slots_after_boot", unit: "slots", mote: xs.slots / SLOT_64, ...common });
    emit({
      metric: "allocated_heap_after_boot_esp32",
      unit: "bytes",
      mote: allocated(sample),
      peer: "Moddable examples/io/tcp/mqttclient",
      peer_value: allocated(peerSample),
      // smaller is better: > 1 means mote holds less
      ratio: allocated(peerSample) / allocated(sample),
      slots_allocated: sample.slotsAllocated / SLOT_64,
      chunks_allocated: sample.chunksAllocated,
      ...common,
    });
    emit({
      metric: "used_heap_5s_after_connect_esp32",
      unit: "bytes",
      mote: used(sample),
      peer: "Moddable examples/io/tcp/mqttclient",
      peer_value: used(peerSample),
      ratio: used(peerSample) / used(sample),
      ...common,
    });
    emit({
      metric: "stack_peak",
      unit: "slots",
      mote: stackPeak / SLOT_64,
      peer: "Moddable examples/io/tcp/mqttclient",
      peer_value: peerStackPeak / SLOT_64,
      ratio: peerStackPeak / stackPeak,
      stack_size: stackSlots,
      within_stack: stackPeak / SLOT_64 < stackSlots,
      margin_slots: stackSlots - stackPeak / SLOT_64,
      boot: stackBoot / SLOT_64,
      mqtt_telemetry: stackMqttTelemetry / SLOT_64,
      ping_command: stackPing / SLOT_64,
      coap_command: stackCoap / SLOT_64,
      esp32_default_384: stackPeak / SLOT_64 <= 384,
      ...common,
    });
    await tlsFigures(sdk, emit, stackSlots, common);
  } finally {
    await device?.stop();
    await observer.endAsync();
    await broker.close();
    await coap.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(peerDir, { recursive: true, force: true });
  }
}
