/**
 * How fast the device program's MQTT link is back after WiFi returns (issue 16,
 * item 1: "connected ≤ 2 s after WiFi is back, every time"), on XS in the
 * simulator: N WiFi drops of seeded lengths (0.5–3 s); for each, the time from
 * the device's "wifi up" to its "mqtt connected" (both log lines, taken as they
 * reach Node), as p50, p95 and max, and how many took over 2 s. No peer: no other
 * client ties its reconnect to a station's address. The first connect after boot
 * is reported beside it (cold: modules loaded, code not yet warm).
 * The pass/fail rule is proved on a fake clock (test/unit/mqtt-reconnect.test.ts);
 * this is the real-time figure. Slow by nature: the station rejoins after its own
 * backoff, which climbs while drops come faster than its stable time (30 s).
 *   npm run bench -- reconnect [--json]      (MOTE_BENCH_DROPS=N, default 10)
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulation } from "../host-shim/sim/simulation.js";
import { seededRandom } from "../src/util/prng.js";
import type { Emit } from "./lib.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(emit: Emit): Promise<void> {
  const drops = Math.max(1, Math.min(500, Number(process.env.MOTE_BENCH_DROPS ?? 10) || 10));
  const lines: { at: number; line: string }[] = [];
  const sim = await startSimulation({
    state: mkdtempSync(join(tmpdir(), "mote-bench-reconnect-")),
    telemetryMs: 1000,
    observeSensor: false,
    pollMs: 60_000,
    onLog: (_device, line) => lines.push({ at: performance.now(), line }),
  });
  /** Time from the first "wifi up" after line `from` to the first "mqtt connected" after it; bounded wait. */
  const returnTime = async (from: number, boundMs: number): Promise<number> => {
    const until = performance.now() + boundMs;
    for (;;) {
      const up = lines.findIndex((l, i) => i >= from && /wifi up/.test(l.line));
      const connected = up < 0 ? -1 : lines.findIndex((l, i) => i > up && /mqtt connected/.test(l.line));
      if (connected >= 0) return lines[connected].at - lines[up].at;
      if (performance.now() > until) throw new Error(`no wifi up → mqtt connected within ${boundMs} ms`);
      await sleep(20);
    }
  };
  try {
    const first = await returnTime(0, 60_000);
    await sim.waitFor((s) => s[0].device?.healthy === true, 60_000);
    const rng = seededRandom(16);
    const delays: number[] = [];
    for (let i = 0; i < drops; i++) {
      const from = lines.length;
      sim.faults.wifiDrop(500 + Math.floor(rng() * 2500));
      delays.push(await returnTime(from, 120_000));
      await sim.waitFor((s) => s[0].device?.healthy === true, 60_000);
      await sleep(500);
    }
    delays.sort((a, b) => a - b);
    const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))];
    const p50 = at(0.5);
    const out = (metric: string, mote: number, extra: Record<string, unknown> = {}) =>
      emit({ metric, unit: "ms", mote, peer: null, peer_value: null, ratio: null, engine: "xs", ...extra });
    out("wifi_return_to_mqtt_p50", p50, { drops });
    out("wifi_return_to_mqtt_p95", at(0.95), { drops });
    out("wifi_return_to_mqtt_max", delays[delays.length - 1], { drops, over_2s: delays.filter((d) => d > 2000).length });
    out("boot_wifi_to_mqtt", first, { note: "first connect after boot, cold" });
  } finally {
    await sim.stop();
  }
}
