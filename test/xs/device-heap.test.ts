/**
 * XS tier: the XS heap stays flat while the program publishes many messages.
 * Count: MOTE_HEAP_MESSAGES (default 2000; the figure is 10000).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Simulation } from "../../host-shim/sim/simulation.js";
import type { DeviceStatus } from "../../src/runtime/health.js";
import { simulate } from "./device-observer.js";

const MESSAGES = Number(process.env.MOTE_HEAP_MESSAGES ?? 2000);
const WARMUP = Math.min(500, Math.floor(MESSAGES / 4));
const BURST = 40;

let sim: Simulation;

beforeAll(async () => {
  sim = await simulate({ entry: "test/xs/device-heap-entry.ts", telemetryMs: 3_600_000, observeSensor: false });
  await sim.waitFor((s) => s[0].device?.healthy === true, 20_000);
}, 40_000);

afterAll(async () => {
  await sim?.stop();
});

async function publish(n: number): Promise<void> {
  const device = sim.devices[0];
  let sent = 0;
  for (let guard = 0; sent < n && guard < n * 10; guard++) {
    sent += (await device.call("moteBurst", Math.min(BURST, n - sent))) as number;
    // wait for the acknowledgements: the queue is bounded, the test must not rely on drops
    for (let i = 0; i < 2000; i++) {
      const s = (await device.call("moteStatus")) as DeviceStatus;
      if (s.queueDepth === 0) break;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  expect(sent).toBe(n);
}

describe("XS heap", () => {
  test(`stays flat over ${MESSAGES} published messages after warm-up (< 5% growth after gc)`, async () => {
    const engine = sim.devices[0].engine!;
    await publish(WARMUP);
    const warm = (await engine.meters()).heapBytes;
    await publish(MESSAGES);
    const after = (await engine.meters()).heapBytes;
    const s = (await sim.devices[0].call("moteStatus")) as DeviceStatus;
    expect(s.counters.msgsDropped).toBe(0);
    expect(s.counters.telemetrySent).toBeGreaterThanOrEqual(WARMUP + MESSAGES);
    console.log(`XS heap after ${WARMUP} messages: ${warm} B; after ${WARMUP + MESSAGES}: ${after} B (${(((after - warm) / warm) * 100).toFixed(2)}%)`);
    expect(after).toBeLessThan(warm * 1.05);
  }, 120_000);
});
