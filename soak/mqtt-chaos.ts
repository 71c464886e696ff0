/**
 * MQTT chaos soak: the soak device program (soak/device-entry.ts) on the XS
 * engine in the simulator (host-shim/sim startSimulation, one device, its
 * link through the simulator's TCP fault proxy) against a real mosquitto with
 * persistence on (test/helpers/mosquitto.ts), while this harness:
 *   - restarts the broker (SIGTERM: it saves its persistence file; down `downMs`),
 *   - drops the device's WiFi (sim.faults.wifiDrop: the radio and every
 *     connection through its link go down for `downMs`),
 *   - power-cuts the device (sim.faults.powerCut: the engine is killed with
 *     no warning and booted again from its state folder after `downMs`),
 *   - optionally floods `soak/flood` at the device with QoS 0 messages.
 * Faults are spread over the run by progress (received messages), in a
 * seeded order. An MQTT.js subscriber with a persistent session (clean:
 * false, QoS 2 on soak/q2, QoS 1 on soak/q1) counts what arrives.
 *
 * Verdict: lost = sequence numbers never seen; duplicated = seen more than
 * once (allowed for QoS 1 by MQTT §4.3.2, counted anyway; 0 required for
 * QoS 2, §4.3.3). Recovery after a fault = from the moment the fault ends
 * (broker listening again / link back / power back) to the first message
 * the subscriber receives after that moment. Every wait is bounded.
 */
import mqtt, { type MqttClient as PeerClient } from "mqtt";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulation, type Simulation } from "../host-shim/sim/simulation.js";
import { bundleForXs } from "../host-shim/xs/engine.js";
import { startMosquitto, type Mosquitto } from "../test/helpers/mosquitto.js";
import { percentile } from "./coap-loss.js";
import { seededRandom as mulberry } from "../src/util/prng.js";

export type FaultKind = "broker-restart" | "wifi-drop" | "power-cut" | "flood";

export interface ChaosOptions {
  /** Messages per QoS level (QoS 1 and QoS 2 each). */
  count: number;
  window?: number;
  /** Device publishes per second, both QoS levels together (0 = as fast as the window allows). */
  rate?: number;
  brokerRestarts?: number;
  wifiDrops?: number;
  powerCuts?: number;
  /** Floods: QoS 0 messages/s at the device for `floodMs`. */
  floods?: number;
  floodRate?: number;
  floodMs?: number;
  /** How long each fault lasts, ms (default 1000). */
  downMs?: number;
  seed?: number;
  /** Give up waiting for the last messages after this long, ms (default 120,000). */
  settleTimeoutMs?: number;
  /** Whole-run bound, ms (default 30 minutes). */
  timeoutMs?: number;
  protocolVersion?: 4 | 5;
  /** Log progress every 500 ms for 10 s after a flood (diagnosis). */
  traceFlood?: boolean;
  log?(line: string): void;
}

export interface FaultRecord {
  kind: FaultKind;
  atReceived: number;
  /** ms from the end of the fault to the next message at the subscriber. */
  recoveryMs: number | undefined;
}

export interface ChaosResult {
  count: number;
  lost: { qos1: number; qos2: number };
  duplicated: { qos1: number; qos2: number };
  lostSamples: { qos1: number[]; qos2: number[] };
  dupSamples: { qos2: number[] };
  faults: FaultRecord[];
  recoveryP50: number;
  recoveryP99: number;
  crashes: number;
  boots: number;
  deviceRejected: number;
  deviceLastError: string;
  /** QoS 0 flood at the device: what was sent, what the program saw, telemetry acknowledged meanwhile, XS heap peak, and the longest wait for telemetry once it stopped. */
  flood: { offeredPerSecond: number; sent: number; received: number; deltaAckedDuringFlood: number; heapPeakBytes: number; gapAfterMs?: number } | undefined;
  /** XS heap after warm-up on the first boot, and on the boot that ran to the end (the baseline of the end figure). */
  heapFirstBootBytes: number | undefined;
  heapStartBytes: number | undefined;
  heapEndBytes: number | undefined;
  heapDeltaPct: number | undefined;
  wallMs: number;
  messagesPerSecond: number;
  complete: boolean;
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Counter {
  seen: Map<number, number>;
  lastArrival: number;
}

async function connectPeer(url: string, clientId: string, clean: boolean): Promise<PeerClient> {
  const c = mqtt.connect(url, { clientId, clean, reconnectPeriod: 100, connectTimeout: 3000, keepalive: 10 });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`peer ${clientId} did not connect`)), 10_000);
    c.once("connect", () => {
      clearTimeout(t);
      resolve();
    });
  });
  return c;
}

export async function runMqttChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? (() => undefined);
  const t0 = Date.now();
  const deadline = t0 + (o.timeoutMs ?? 30 * 60_000);
  const downMs = o.downMs ?? 1000;
  const random = mulberry(o.seed ?? 1);
  const state = mkdtempSync(join(tmpdir(), "mote-soak-"));
  let broker: Mosquitto | undefined;
  let sim: Simulation | undefined;
  let sub: PeerClient | undefined;
  let flooder: PeerClient | undefined; // QoS 0 publisher for the warm-up and the floods
  const crashes: string[] = [];
  // Killed (Ctrl-C, a timeout): stop the broker and the engine we started instead of leaving them behind.
  const onSignal = (signal: NodeJS.Signals) => {
    void Promise.allSettled([sim?.stop(), broker?.close()]).then(() => {
      rmSync(state, { recursive: true, force: true });
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    broker = await startMosquitto({ extraConfig: ["max_inflight_messages 32", "max_queued_messages 100000", "max_queued_bytes 0"] });
    const counters: Record<1 | 2, Counter> = { 1: { seen: new Map(), lastArrival: 0 }, 2: { seen: new Map(), lastArrival: 0 } };
    let lastArrival = 0;
    const arrivals: number[] = []; // arrival times, in order (for recovery: the first one after a fault ends)
    const firstArrivalAfter = (t: number): number | undefined => {
      let lo = 0;
      let hi = arrivals.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (arrivals[mid] > t) hi = mid;
        else lo = mid + 1;
      }
      return lo < arrivals.length ? arrivals[lo] : undefined;
    };
    sub = await connectPeer(broker.url, "soak-observer", false);
    sub.on("message", (topic, payload) => {
      const q = topic === "soak/q1" ? 1 : topic === "soak/q2" ? 2 : 0;
      if (q === 0) return;
      const seq = Number(payload.toString());
      const c = counters[q];
      c.seen.set(seq, (c.seen.get(seq) ?? 0) + 1);
      c.lastArrival = lastArrival = Date.now();
      arrivals.push(lastArrival);
    });
    await sub.subscribeAsync({ "soak/q1": { qos: 1 }, "soak/q2": { qos: 2 } });
    const received = () => counters[1].seen.size + counters[2].seen.size;
    const total = 2 * o.count;

    sim = await startSimulation({
      devices: 1,
      broker: broker.url,
      state,
      observeSensor: false,
      bundle: () => bundleForXs("soak/device-entry.ts"),
      config: { soakCount: o.count, soakWindow: o.window ?? 16, soakVersion: o.protocolVersion ?? 5, soakRate: o.rate ?? 0 },
      pollMs: 500,
      onEvent: (_i, e) => {
        if (e.type === "crash") crashes.push(e.message);
      },
      onLog: (_i, line) => {
        if (/error|exception|throw/i.test(line)) log(`device: ${line}`);
      },
    });
    const device = sim.devices[0];
    const deviceStatus = async () => (await device.call("soakStatus").catch(() => undefined)) as { soak?: Record<string, number | boolean | string> } | undefined;

    // baseline heap: first boot, connected, after the first messages
    const waitUntil = async (pred: () => boolean | Promise<boolean>, ms: number, what: string) => {
      const until = Math.min(deadline, Date.now() + ms);
      for (let i = 0; Date.now() < until; i++) {
        if (await pred()) return true;
        await sleep(50);
      }
      log(`timeout waiting for ${what}`);
      return false;
    };
    await waitUntil(() => received() >= Math.min(total, 20), 30_000, "first messages");
    flooder = await connectPeer(broker.url, "soak-flooder", true);
    /**
     * The heap baseline of the running boot: after its first messages and a warm-up that takes
     * every code path of the run once (QoS 0 deliveries too). A power cut starts a new engine,
     * so the baseline is taken again after it: the end is compared with the start of its own boot.
     */
    const baseline = async (): Promise<number | undefined> => {
      const from = received();
      await waitUntil(() => received() >= Math.min(total, from + 20), 30_000, "messages after boot");
      const before = Number((await deviceStatus())?.soak?.floodReceived ?? 0);
      for (let i = 0; i < 20; i++) flooder!.publish("soak/flood", "warm-up", { qos: 0 });
      await waitUntil(async () => Number((await deviceStatus())?.soak?.floodReceived ?? 0) >= before + 20, 10_000, "warm-up flood");
      return (await device.engine?.meters())?.heapBytes;
    };
    const heapFirstBoot = await baseline();
    let heapStart = heapFirstBoot;

    // the fault plan: kinds in a seeded order, spread over the run by progress
    const plan: FaultKind[] = [];
    for (let i = 0; i < (o.brokerRestarts ?? 0); i++) plan.push("broker-restart");
    for (let i = 0; i < (o.wifiDrops ?? 0); i++) plan.push("wifi-drop");
    for (let i = 0; i < (o.powerCuts ?? 0); i++) plan.push("power-cut");
    for (let i = 0; i < (o.floods ?? 0); i++) plan.push("flood");
    for (let i = plan.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [plan[i], plan[j]] = [plan[j], plan[i]];
    }
    const faults: FaultRecord[] = [];
    let flood: ChaosResult["flood"];
    for (let k = 0; k < plan.length && Date.now() < deadline; k++) {
      const at = Math.floor(((k + 1) / (plan.length + 1)) * total * 0.9);
      await waitUntil(() => received() >= at, Math.max(60_000, o.count * 20), `progress ${at}`);
      const kind = plan[k];
      log(`fault ${k + 1}/${plan.length}: ${kind} at ${received()}/${total} received, ${Date.now() - t0} ms, device ${JSON.stringify((await deviceStatus())?.soak)}`);
      let endedAt: number;
      if (kind === "broker-restart") {
        await broker.stop();
        await sleep(downMs);
        await broker.start();
        endedAt = Date.now();
      } else if (kind === "wifi-drop") {
        sim.faults.wifiDrop(downMs);
        await sleep(downMs);
        endedAt = Date.now();
      } else if (kind === "power-cut") {
        await sim.faults.powerCut(downMs);
        await sleep(downMs);
        endedAt = Date.now();
        await waitUntil(() => device.state === "running", 30_000, "boot after power cut");
      } else {
        // flood: QoS 0 at floodRate/s for floodMs, from a second client, while telemetry goes on
        const rate = o.floodRate ?? 10_000;
        const ms = o.floodMs ?? 3000;
        const before = (await deviceStatus())?.soak;
        const payload = Buffer.alloc(32, 0x61);
        let sent = 0;
        let peak = 0;
        const start = Date.now();
        // the heap is sampled beside the publishing loop (a meters() call waits behind the flood in XS's queue)
        let sampling = true;
        const sampler = (async () => {
          while (sampling) {
            peak = Math.max(peak, (await device.engine?.meters().catch(() => undefined))?.heapBytes ?? 0);
            await sleep(250);
          }
        })();
        while (Date.now() - start < ms) {
          const due = Math.floor(((Date.now() - start) / 1000) * rate);
          for (; sent < due; sent++) flooder.publish("soak/flood", payload, { qos: 0 });
          await sleep(5);
        }
        sampling = false;
        await sampler;
        endedAt = Date.now();
        for (let t = 0; t < (o.traceFlood ? 20 : 2); t++) {
          await sleep(500);
          if (o.traceFlood) log(`after flood +${Date.now() - endedAt} ms: received ${received()}, device ${JSON.stringify((await deviceStatus())?.soak)}`);
        }
        const after = (await deviceStatus())?.soak;
        peak = Math.max(peak, (await device.engine?.meters())?.heapBytes ?? 0);
        flood = {
          offeredPerSecond: Math.round((sent / (endedAt - start)) * 1000),
          sent: (flood?.sent ?? 0) + sent,
          received: (flood?.received ?? 0) + Number(after?.floodReceived ?? 0) - Number(before?.floodReceived ?? 0),
          deltaAckedDuringFlood: Number(after?.acked ?? 0) - Number(before?.acked ?? 0),
          heapPeakBytes: Math.max(flood?.heapPeakBytes ?? 0, peak),
        };
      }
      const mark = endedAt;
      await waitUntil(() => lastArrival > mark || received() >= total, 60_000, `recovery after ${kind}`);
      if (kind === "power-cut") heapStart = await baseline();
      const first = firstArrivalAfter(mark);
      faults.push({ kind, atReceived: received(), recoveryMs: first === undefined ? undefined : first - mark });
      if (kind === "flood" && flood !== undefined && first !== undefined) flood.gapAfterMs = Math.max(flood.gapAfterMs ?? 0, first - mark);
    }

    // settle: every message, then a quiet second for late duplicates
    const complete = await waitUntil(() => received() >= total, o.settleTimeoutMs ?? 120_000, "all messages");
    await waitUntil(async () => (await deviceStatus())?.soak?.done === true, 20_000, "device done");
    await sleep(1500);
    const end = (await deviceStatus())?.soak;
    const heapEnd = (await device.engine?.meters())?.heapBytes;
    const missing = (q: 1 | 2) => {
      const out: number[] = [];
      for (let s = 1; s <= o.count; s++) if (!counters[q].seen.has(s)) out.push(s);
      return out;
    };
    const dups = (q: 1 | 2) => [...counters[q].seen.entries()].filter(([, n]) => n > 1).map(([s]) => s);
    // a flood is load, not an outage: its "recovery" (telemetry gap after it) is reported with the flood
    const rec = faults.filter((f) => f.kind !== "flood").map((f) => f.recoveryMs).filter((x): x is number => x !== undefined);
    const wallMs = Date.now() - t0;
    return {
      count: o.count,
      lost: { qos1: missing(1).length, qos2: missing(2).length },
      duplicated: { qos1: dups(1).length, qos2: dups(2).length },
      lostSamples: { qos1: missing(1).slice(0, 20), qos2: missing(2).slice(0, 20) },
      dupSamples: { qos2: dups(2).slice(0, 20) },
      faults,
      recoveryP50: percentile(rec, 50),
      recoveryP99: percentile(rec, 99),
      crashes: crashes.length,
      boots: device.status().boots,
      deviceRejected: Number(end?.rejected ?? 0),
      deviceLastError: String(end?.lastError ?? ""),
      flood,
      heapFirstBootBytes: heapFirstBoot,
      heapStartBytes: heapStart,
      heapEndBytes: heapEnd,
      heapDeltaPct: heapStart && heapEnd ? ((heapEnd - heapStart) / heapStart) * 100 : undefined,
      wallMs,
      messagesPerSecond: (received() / wallMs) * 1000,
      complete,
    };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await flooder?.endAsync(true).catch(() => undefined);
    await sub?.endAsync(true).catch(() => undefined);
    await sim?.stop().catch(() => undefined);
    await broker?.close().catch(() => undefined);
    rmSync(state, { recursive: true, force: true });
  }
}
