/**
 * The device loop on XS (figures reported as "bench":"device", "engine":"xs"):
 *   - XS heap peak and steady state while the program runs its loop
 *     (telemetry every 100 ms, CoAP observe, commands), after gc;
 *   - time per telemetry cycle inside XS (build the JSON record, hand it to the
 *     MQTT session, write it to the socket through the host bridge);
 *   - fleet: host memory per simulated device and devices per GB at
 *     --devices MOTE_BENCH_DEVICES (default 50).
 *   npm run bench -- device-loop [--json]
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulation } from "../host-shim/sim/simulation.js";
import { memoryPerDevice } from "../host-shim/sim/memory.js";
import { bundleForXs } from "../host-shim/xs/engine.js";
import type { DeviceStatus } from "../src/runtime/health.js";
import type { Emit } from "./lib.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(emit: Emit): Promise<void> {
  const out = (metric: string, unit: string, mote: number, extra: Record<string, unknown> = {}) =>
    emit({ bench: "device", metric, unit, mote, peer: null, peer_value: null, ratio: null, engine: "xs", ...extra });

  // 1. One device running its loop: heap over time.
  {
    const sim = await startSimulation({
      state: mkdtempSync(join(tmpdir(), "mote-bench-")),
      telemetryMs: 100,
      bundle: () => bundleForXs("test/xs/device-heap-entry.ts"),
      pollMs: 60_000,
    });
    try {
      await sim.waitFor((s) => s[0].device?.healthy === true, 30_000);
      const engine = sim.devices[0].engine!;
      const samples: number[] = [];
      for (let i = 0; i < 20; i++) {
        await sleep(250);
        samples.push((await engine.meters()).heapBytes);
      }
      const steady = samples.slice(-10);
      out("xs_heap_peak_loop", "bytes", Math.max(...samples), { note: "telemetry every 100 ms + CoAP observe, after gc" });
      out("xs_heap_steady_loop", "bytes", Math.round(steady.reduce((a, b) => a + b, 0) / steady.length));
      // 2. Time per telemetry cycle, measured inside XS.
      let accepted = 0;
      let ms = 0;
      for (let i = 0; i < 20; i++) {
        const r = (await sim.devices[0].call("moteBurstTimed", 25)) as { accepted: number; ms: number };
        accepted += r.accepted;
        ms += r.ms;
        for (let k = 0; k < 500; k++) {
          const s = (await sim.devices[0].call("moteStatus")) as DeviceStatus;
          if (s.queueDepth === 0) break;
          await sleep(2);
        }
      }
      out("telemetry_cycle_time", "ms/cycle", ms / Math.max(1, accepted), { cycles: accepted, note: "XS clock, host bridge included" });
      out("xs_heap_after_bursts", "bytes", (await engine.meters()).heapBytes, { messages: accepted });
    } finally {
      await sim.stop();
    }
  }

  // 3. Fleet memory.
  {
    const devices = Number(process.env.MOTE_BENCH_DEVICES ?? 50);
    const baseline = process.memoryUsage().rss;
    const started = Date.now();
    const sim = await startSimulation({
      devices,
      state: mkdtempSync(join(tmpdir(), "mote-bench-fleet-")),
      telemetryMs: 5000,
      observeSensor: false,
      pollMs: 5000,
    });
    try {
      await sim.waitFor((s) => s.every((d) => d.device?.healthy === true), 120_000);
      const bootMs = Date.now() - started;
      await sleep(2000);
      const m = memoryPerDevice(devices, baseline);
      out("fleet_memory_per_device", "bytes", Math.round(m.bytesPerDevice), { devices, engine: "node+xs", note: "xsnap RSS + Node growth / devices" });
      out("fleet_devices_per_GB", "devices/GB", m.devicesPerGB, { devices, engine: "node+xs" });
      out("fleet_boot_time", "ms", bootMs, { devices, engine: "node+xs" });
    } finally {
      await sim.stop();
    }
  }
}
