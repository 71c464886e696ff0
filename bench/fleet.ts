/**
 * Simulator scale: a fleet of MOTE_BENCH_DEVICES (default 200) simulated
 * devices, each its own XS machine (own clock, flash/preferences folder, MAC
 * and client id), on the fleet worker (host-shim/xs/xsnap-lite.ts). Figures:
 * host memory per device, devices per GB, and the time from start until every
 * device is online (WiFi up, MQTT connected to the embedded broker). The peer
 * is the same simulator on the stock @agoric/xsnap worker, run first in the
 * same process with MOTE_BENCH_PEER_DEVICES (default 20) devices: its memory
 * per device is what `--devices N` cost before (issue 19: 58 MB, 18 per GB).
 *   npm run bench -- fleet [--json]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulation } from "../host-shim/sim/simulation.js";
import { memoryPerDevice } from "../host-shim/sim/memory.js";
import { ensureLiteXsnap } from "../host-shim/xs/xsnap-lite.js";
import type { Emit } from "./lib.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface FleetRun {
  devices: number;
  bytesPerDevice: number;
  devicesPerGB: number;
  bootMs: number;
}

async function fleet(devices: number, engine: "lite" | "standard"): Promise<FleetRun> {
  const state = mkdtempSync(join(tmpdir(), `mote-bench-fleet-${engine}-`));
  const baseline = process.memoryUsage().rss;
  const started = Date.now();
  const sim = await startSimulation({ devices, engine, state, telemetryMs: 5000, observeSensor: false, pollMs: 10_000, fleet: `bench-${engine}-${process.pid}` });
  try {
    await sim.waitFor((s) => s.every((d) => d.device?.healthy === true), 900_000);
    const bootMs = Date.now() - started;
    await sleep(10_000); // a few telemetry periods: the engines' garbage has cycled
    const m = memoryPerDevice(devices, baseline);
    return { devices, bytesPerDevice: m.bytesPerDevice, devicesPerGB: m.devicesPerGB, bootMs };
  } finally {
    await sim.stop();
    rmSync(state, { recursive: true, force: true });
  }
}

export async function run(emit: Emit): Promise<void> {
  await ensureLiteXsnap((line) => console.error(line));
  const n = Number(process.env.MOTE_BENCH_DEVICES ?? 200);
  const peerN = Number(process.env.MOTE_BENCH_PEER_DEVICES ?? 20);
  const before = await fleet(peerN, "standard");
  const after = await fleet(n, "lite");
  const peer = `stock xsnap worker, ${peerN} devices`;
  emit({ bench: "fleet", metric: `fleet_memory_per_device_${n}`, unit: "bytes", mote: Math.round(after.bytesPerDevice), peer, peer_value: Math.round(before.bytesPerDevice), ratio: before.bytesPerDevice / after.bytesPerDevice, engine: "xs", devices: n, note: "xsnap RSS + Node growth / devices" });
  emit({ bench: "fleet", metric: `fleet_devices_per_GB_${n}`, unit: "devices/GB", mote: after.devicesPerGB, peer, peer_value: before.devicesPerGB, ratio: after.devicesPerGB / Math.max(1, before.devicesPerGB), engine: "xs", devices: n });
  emit({ bench: "fleet", metric: `fleet_boot_all_online_${n}`, unit: "ms", mote: after.bootMs, peer, peer_value: before.bootMs, ratio: null, engine: "xs", devices: n, note: `peer boots ${peerN} devices, not ${n}: no ratio` });
}
