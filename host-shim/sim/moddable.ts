/**
 * `mote sim --engine moddable`: the default device program on Moddable's own XS
 * runtime (issue 17, "heap on the chip's terms"), where the SDK is set up.
 *
 * The program is the one `mcconfig` links for a board (manifest.json: mote
 * preloaded, boards/desktop host modules), built by the real `mcconfig -m -i -p
 * lin` (host-shim/moddable/build.ts) and run headless by mchost in the state
 * folder, which is its file system: preferences (modpreferences.json), flash,
 * boot state. Its configuration reaches it the way it reaches a board: as
 * preferences (the `mote` domain), written before the boot.
 *
 * What the status shows is what the device tells the world, not what a bridge
 * reads from inside: its log lines (WiFi, MQTT), the telemetry a broker observer
 * receives, and the heap as Moddable's runtime counts it — the "instruments:"
 * line an instrumented build prints every second (slots used and allocated,
 * chunks, stack peak), with the slots scaled to the ESP32's 16 bytes
 * (host-shim/moddable/instruments.ts). "used" includes garbage not yet
 * collected; the live heap after a collection is `npm run bench -- moddable`.
 *
 * Faults, as on the xs engine: power cuts (the process is killed and booted
 * again), broker restarts (embedded broker), WiFi drops and loss. The device
 * reaches its broker(s) and CoAP server through fault relays (faults.ts), its
 * "radio": a WiFi drop empties the air of boards/desktop/wifi.js (its
 * `mote-wifi.json`, watched once a second while associated: a lost link) and
 * cuts the relays for the drop (lin's sockets are the host's and would not
 * notice); loss delays TCP segments and drops datagrams there.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import mqtt, { type MqttClient } from "mqtt";
import { buildModdable, sharedLibrary } from "../moddable/build.js";
import { esp32Bytes, parseInstruments, SLOT_BYTES_LIN64, type Instruments } from "../moddable/instruments.js";
import { ModdableDevice } from "../moddable/run.js";
import { findModdable } from "../moddable/sdk.js";
import { projectRoot } from "../xs/engine.js";
import { startBroker, startCoapServer, type BrokerPeer, type CoapPeer } from "./peers.js";
import { newestSource } from "./simulation.js";
import { TcpFaultProxy, UdpFaultProxy, type ScheduledFault } from "./faults.js";

export interface ModdableSimOptions {
  /** External broker `mqtt://[user:pass@]host:port` (several: comma-separated); default the embedded aedes. */
  broker?: string;
  brokerPort?: number;
  /** External CoAP server; default the embedded one, whose /sensor the device observes. */
  coap?: string;
  /** The device's file system (preferences, flash). */
  state: string;
  /** Fleet name the client id is drawn from. */
  fleet: string;
  telemetryMs: number;
  faults?: readonly ScheduledFault[];
  onPeers?(peers: { brokerUrl: string; coapUrl: string; embeddedBroker: boolean; embeddedCoap: boolean }): void;
  onLog?(line: string): void;
  onEvent?(event: string): void;
}

/** The status of the device on Moddable's runtime (the `--json` record). */
export interface ModdableDeviceStatus {
  engine: "moddable";
  device: string;
  id: string;
  healthy: boolean;
  boots: number;
  wifi: string;
  mqtt: string;
  /** Telemetry records the broker observer received. */
  telemetry: number;
  uptimeMs: number;
  /** The last "instruments:" figures, bytes on the ESP32's terms (slots ×16/32, chunks as they are). */
  heap?: { usedBytes: number; allocatedBytes: number; slotsUsed: number; chunksUsedBytes: number; stackPeakSlots: number; collections: number };
  heapUsedPeakBytes: number;
}

export interface ModdableSimulation {
  readonly brokerUrl: string;
  status(): ModdableDeviceStatus;
  brokerRestart(downMs?: number): Promise<void>;
  powerCut(offMs?: number): Promise<void>;
  /** The access point vanishes for `durationMs`. */
  wifiDrop(durationMs?: number): void;
  /** Loss rate on the device's links (TCP: delays; UDP: drops). */
  loss(rate: number): void;
  stop(): Promise<void>;
}

export class ModdableSimError extends Error {
  constructor(
    readonly code: "unavailable" | "usage" | "build",
    message: string,
  ) {
    super(message);
    this.name = "MoteError";
  }
}

/** Why `args` cannot run on Moddable's runtime, or undefined. */
export function moddableRefusal(o: { devices: number; app?: string; otaKey?: string; view?: number }): string | undefined {
  if (o.devices !== 1) return "--engine moddable runs one device (a fleet runs on the xs engine)";
  if (o.app !== undefined) return "--engine moddable runs the default program (an --app runs on the xs engine)";
  if (o.otaKey !== undefined) return "--engine moddable: OTA mode runs on the xs engine (its simulated flash slots)";
  if (o.view !== undefined) return "--engine moddable: the fleet view runs on the xs engine";
  return undefined;
}

/** The WiFi network the device is given (its preferences); in range unless a drop empties the air. */
const NETWORK = { ssid: "mote-sim", password: "mote-sim-pass" };

/** dist/lib (the library manifest.json preloads) rebuilt when older than src/. */
async function ensureDeviceDist(log: (line: string) => void): Promise<void> {
  const root = projectRoot();
  const built = join(root, "dist", "lib", "mote", "app.js");
  if (existsSync(built) && statSync(built).mtimeMs >= newestSource(join(root, "src"))) return;
  log("building dist/lib for Moddable (scripts/build.mjs --only=device) …");
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [join(root, "scripts", "build.mjs"), "--only=device"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
    child.on("error", () => resolve(127));
    child.on("close", (c) => resolve(c ?? 1));
  });
  if (code !== 0 || !existsSync(built)) throw new ModdableSimError("build", `scripts/build.mjs --only=device failed (status ${code})`);
}

/**
 * Sets keys of the `mote` preference domain in the folder's modpreferences.json
 * (boards/desktop/preference.js's file), keeping every other key and domain: the
 * MQTT session, the trust record and what commands saved stay from run to run.
 */
export function setDevicePreferences(dir: string, values: Record<string, string | number>): void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "modpreferences.json");
  let prefs: Record<string, Record<string, unknown>> = {};
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as unknown;
    if (parsed !== null && typeof parsed === "object") prefs = parsed as typeof prefs;
  } catch {
    // none yet (a fresh board), or unreadable: start with an empty store, as NVS would
  }
  prefs.mote = { ...(prefs.mote ?? {}), ...values };
  writeFileSync(file, JSON.stringify(prefs));
}

/** A client id from the fleet name: stable for a state folder, distinct between simulators. */
export function linClientId(fleet: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < fleet.length; i++) h = Math.imul(h ^ fleet.charCodeAt(i), 0x01000193) >>> 0;
  return `mote-lin-${h.toString(16).padStart(8, "0")}`;
}

export async function startModdableSimulation(o: ModdableSimOptions): Promise<ModdableSimulation> {
  const sdk = findModdable();
  if (typeof sdk === "string") throw new ModdableSimError("unavailable", `--engine moddable: ${sdk}`);
  const log = (line: string) => o.onEvent?.(line);
  await ensureDeviceDist(log);
  const source = join(projectRoot(), "dist", "lib", "mote", "app.js");
  const built = sharedLibrary("device");
  let so = built;
  if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) {
    log("building the device program with mcconfig -m -i -p lin (a minute the first time) …");
    try {
      so = await buildModdable("device", sdk);
    } catch (e) {
      throw new ModdableSimError("build", (e as Error).message);
    }
  }

  let broker: BrokerPeer | undefined;
  let coap: CoapPeer | undefined;
  const stops: (() => Promise<unknown>)[] = [];
  const cleanUp = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    if (o.broker === undefined) {
      broker = await startBroker({ port: o.brokerPort });
      stops.push(() => broker!.close());
    }
    if (o.coap === undefined) {
      coap = await startCoapServer();
      stops.push(() => coap!.close());
    }
  } catch (e) {
    await cleanUp();
    throw e;
  }
  const brokerUrl = o.broker ?? broker!.url;
  const coapUrl = o.coap ?? coap!.url;
  o.onPeers?.({ brokerUrl, coapUrl, embeddedBroker: broker !== undefined, embeddedCoap: coap !== undefined });

  // The device's links go through fault relays: one per broker of the list, one for CoAP.
  const relays: TcpFaultProxy[] = [];
  const deviceBrokers: string[] = [];
  let coapRelay: UdpFaultProxy;
  try {
    for (const url of brokerUrl.split(",")) {
      const u = new URL(url);
      const relay = new TcpFaultProxy({ targetHost: u.hostname, targetPort: Number(u.port || 1883) });
      await relay.listen();
      stops.push(() => relay.close());
      relays.push(relay);
      const userinfo = u.username ? `${u.username}${u.password ? `:${u.password}` : ""}@` : "";
      deviceBrokers.push(`mqtt://${userinfo}127.0.0.1:${relay.port}`);
    }
    const c = new URL(coapUrl.replace(/^coap:/, "http:"));
    coapRelay = new UdpFaultProxy({ targetHost: c.hostname, targetPort: Number(c.port || 5683) });
    await coapRelay.listen();
    stops.push(() => coapRelay.close());
  } catch (e) {
    await cleanUp();
    throw e;
  }

  const id = linClientId(o.fleet);
  const air = join(o.state, "mote-wifi.json");
  rmSync(air, { force: true }); // no file: the network is in range (boards/desktop/wifi.js)
  setDevicePreferences(o.state, {
    ssid: NETWORK.ssid,
    password: NETWORK.password,
    broker: deviceBrokers.join(","),
    clientId: id,
    telemetryMs: o.telemetryMs,
    ...(coap !== undefined ? { coapObserve: `coap://127.0.0.1:${coapRelay.port}/sensor` } : {}),
  });

  // What the device says, read as a user would: its lines and its messages at the broker.
  let wifi = "-";
  let link = "-";
  let telemetry = 0;
  let lastTelemetry = 0;
  let heap: Instruments | undefined;
  let heapPeak = 0;
  let bootAt = Date.now();
  const device = new ModdableDevice(so, sdk, o.state, {
    maxBoots: 1000,
    onLine(line) {
      const sample = parseInstruments(line);
      if (sample !== undefined) {
        heap = sample;
        heapPeak = Math.max(heapPeak, esp32Bytes(sample.slotsUsed, sample.chunksUsed));
        return;
      }
      if (line.startsWith("instruments key:")) return; // the names of the figures above, once per boot
      if (line.startsWith("[host] boot")) {
        bootAt = Date.now();
        wifi = link = "-";
      }
      let m: RegExpExecArray | null;
      if (/wifi up/.test(line)) wifi = "up";
      else if ((m = /wifi down: (\S+)/.exec(line)) !== null) wifi = `down(${m[1]})`;
      else if (/mqtt connecting/.test(line) && link !== "connected") link = "connecting";
      else if (/mqtt connected/.test(line)) link = "connected";
      else if ((m = /mqtt offline: (.*)$/.exec(line)) !== null) link = `offline(${m[1].slice(0, 40)})`;
      o.onLog?.(line);
    },
  });

  const first = new URL(brokerUrl.split(",")[0]);
  let observer: MqttClient;
  try {
    observer = await mqtt.connectAsync({
      host: first.hostname,
      port: Number(first.port || 1883),
      username: first.username ? decodeURIComponent(first.username) : undefined,
      password: first.password ? decodeURIComponent(first.password) : undefined,
      clientId: `${id}-observer`,
      reconnectPeriod: 500,
      connectTimeout: 5_000,
    });
  } catch (e) {
    await cleanUp();
    throw e;
  }
  stops.unshift(() => observer.endAsync(true));
  observer.on("message", (topic) => {
    if (topic === `mote/${id}/telemetry`) {
      telemetry++;
      lastTelemetry = Date.now();
    }
  });
  await observer.subscribeAsync(`mote/${id}/telemetry`, { qos: 1 });

  device.start();
  stops.push(() => device.stop());
  const started = Date.now();

  const timers: NodeJS.Timeout[] = [];
  const sim: ModdableSimulation = {
    brokerUrl,
    status() {
      // Healthy: connected, and telemetry arrived within three periods (or 10 s).
      const fresh = Date.now() - lastTelemetry <= Math.max(3 * o.telemetryMs, 10_000);
      return {
        engine: "moddable",
        device: "mote-lin-0",
        id,
        healthy: link === "connected" && lastTelemetry > 0 && fresh,
        boots: device.boots,
        wifi,
        mqtt: link,
        telemetry,
        uptimeMs: Date.now() - bootAt,
        heap:
          heap === undefined
            ? undefined
            : {
                usedBytes: esp32Bytes(heap.slotsUsed, heap.chunksUsed),
                allocatedBytes: esp32Bytes(heap.slotsAllocated, heap.chunksAllocated),
                slotsUsed: heap.slotsUsed / SLOT_BYTES_LIN64,
                chunksUsedBytes: heap.chunksUsed,
                stackPeakSlots: heap.stackPeak / SLOT_BYTES_LIN64,
                collections: heap.collections,
              },
        heapUsedPeakBytes: heapPeak,
      };
    },
    async brokerRestart(downMs = 1000) {
      if (broker === undefined) throw new ModdableSimError("usage", "broker-restart needs the embedded broker");
      log(`fault: broker-restart (${downMs} ms)`);
      await broker.restart(downMs);
    },
    async powerCut(offMs = 1000) {
      log(`fault: power-cut (${offMs} ms off)`);
      await device.powerCut(offMs);
    },
    wifiDrop(durationMs = 3000) {
      log(`fault: wifi-drop (${durationMs} ms)`);
      writeFileSync(air, "[]"); // the station's network leaves the air: a lost link within a second
      for (const r of relays) r.cut(durationMs);
      coapRelay.cut(durationMs);
      timers.push(setTimeout(() => rmSync(air, { force: true }), durationMs));
    },
    loss(rate) {
      log(`fault: loss ${rate}`);
      for (const r of relays) r.loss = rate;
      coapRelay.loss = rate;
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      await cleanUp();
    },
  };
  for (const f of o.faults ?? []) {
    const run = async (): Promise<void> => {
      if (f.kind === "power-cut") await sim.powerCut(f.durationMs);
      else if (f.kind === "broker-restart") await sim.brokerRestart(f.durationMs);
      else if (f.kind === "wifi-drop") sim.wifiDrop(f.durationMs);
      else sim.loss(f.rate ?? 0);
    };
    timers.push(setTimeout(() => void run().catch((e: Error) => log(`fault ${f.kind}: ${e.message}`)), Math.max(0, f.atMs - (Date.now() - started))));
  }
  return sim;
}

/** One status line: `mote-lin-0 ● mote-lin-1a2b3c4d · moddable lin · wifi up · mqtt connected · telemetry 12 · heap used 41K of 70K · stack 343 · boot 1 · up 40s`. */
export function moddableStatusLine(s: ModdableDeviceStatus): string {
  const kb = (b: number) => `${(b / 1024).toFixed(0)}K`;
  const heap = s.heap === undefined ? "heap -" : `heap used ${kb(s.heap.usedBytes)} of ${kb(s.heap.allocatedBytes)} (esp32, Moddable's count) · stack ${s.heap.stackPeakSlots}`;
  return `${s.device} ${s.healthy ? "●" : "○"} ${s.id} · moddable lin · wifi ${s.wifi} · mqtt ${s.mqtt} · telemetry ${s.telemetry} · ${heap} · boot ${s.boots} · up ${(s.uptimeMs / 1000).toFixed(0)}s`;
}
