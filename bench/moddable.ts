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
 *   against the manifest's creation.stack.
 * - allocated heap: the "instruments:" line lin prints every second
 *   (xs/sources/xsDebug.c fxSampleInstrumentation: chunks used/allocated, slots
 *   used/allocated, stack peak/size, ...), read 5 s after the MQTT connection —
 *   the RAM the machine holds, garbage included. Peer: Moddable's own ECMA-419 MQTT
 *   client example (examples/io/tcp/mqttclient: connect, subscribe, publish at QoS
 *   0/1/2) built and measured the same way against the same broker.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { buildManifest, buildModdable } from "../host-shim/moddable/build.js";
import { ModdableDevice, runModdable, writePreferences } from "../host-shim/moddable/run.js";
import { findModdable, type ModdableSdk } from "../host-shim/moddable/sdk.js";
import { projectRoot } from "../host-shim/xs/engine.js";
import { startLibcoapServer } from "../test/helpers/libcoap.js";
import { startMosquitto } from "../test/helpers/mosquitto.js";
import type { Emit } from "./lib.js";

const SLOT_64 = 32;
const SLOT_32 = 16;
const BUDGET = 96 * 1024;
const SETTLE_MS = 5_000;

/** The xs part of an "instruments:" line (its last 12 values). */
interface Sample {
  chunksUsed: number;
  chunksAllocated: number;
  slotsUsed: number;
  slotsAllocated: number;
  stackPeak: number;
}

function parseInstruments(line: string): Sample | undefined {
  const m = /^instruments: ([0-9,-]+)$/.exec(line.trim());
  if (!m) return undefined;
  const v = m[1].split(",").map(Number);
  if (v.length < 12) return undefined;
  const x = v.slice(-12);
  return { chunksUsed: x[0], chunksAllocated: x[1], slotsUsed: x[2], slotsAllocated: x[3], stackPeak: x[4] };
}

/** Slot bytes of this 64-bit host scaled to the ESP32's 16-byte slots, plus chunk bytes (unscaled). */
const esp32Bytes = (slotBytes: number, chunkBytes: number): number => (slotBytes / SLOT_64) * SLOT_32 + chunkBytes;

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

export async function run(emit: Emit): Promise<void> {
  const sdk = findModdable();
  if (typeof sdk === "string") throw new Error(sdk);
  const so = await buildModdable("device", sdk);
  const manifest = JSON.parse(readFileSync(join(projectRoot(), "manifest.json"), "utf8")) as { creation?: { stack?: number } };
  const stackSlots = manifest.creation?.stack ?? 384;
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
    await observer.publishAsync(`mote/${id}/cmd/ping`, JSON.stringify({ id: "gc", gc: true }), { qos: 1 });
    await until(() => pongs.some((p) => p.id === "gc"), 10_000);
    const pong = pongs.find((p) => p.id === "gc");
    const xs = pong?.xs as { slots: number; chunks: number; stack: number } | undefined;
    if (!xs) throw new Error(`no pong with the XS heap; device said:\n${device.lines.slice(-20).join("\n")}`);
    await observer.publishAsync(`mote/${id}/cmd/coap`, JSON.stringify({ uri: `${coap.url}/time` }), { qos: 1 });
    if (!(await until(() => coapResults > 0, 10_000))) throw new Error(`no CoAP result; device said:\n${device.lines.slice(-20).join("\n")}`);
    await new Promise((r) => setTimeout(r, 1500)); // the next "instruments:" line covers the exchange
    const stackPeak = maxStack(device.lines);
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
      ...common,
    });
  } finally {
    await device?.stop();
    await observer.endAsync();
    await broker.close();
    await coap.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(peerDir, { recursive: true, force: true });
  }
}
