/**
 * XS tier: the XS heap stays flat while the program publishes many messages.
 * Count: MOTE_HEAP_MESSAGES (default 2000; the figure is 10000).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Simulation } from "../../host-shim/sim/simulation.js";
import type { DeviceStatus } from "../../src/runtime/health.js";
import { simulate } from "./device-observer.js";
import { bundleForXs, startXs } from "../../host-shim/xs/engine.js";

const MESSAGES = Number(process.env.MOTE_HEAP_MESSAGES ?? 2000);
const WARMUP = Math.min(500, Math.floor(MESSAGES / 4));
// The program's link holds only what one session-store record can keep
// (src/app/adapters/mqtt.ts: ~15 telemetry records); bursts stay under it.
const BURST = 8;

let sim: Simulation;
/** Heap growth of the bridge alone over 2000 one-shot timers, or 0 when it holds steady. */
let bridgeGrowth = 0;

beforeAll(async () => {
  const control = await startXs({ bundle: await bundleForXs("test/xs/device-heap-control-entry.ts"), stdio: "ignore" });
  try {
    await control.call("fireTimers", 200);
    const before = (await control.meters()).heapBytes;
    await control.call("fireTimers", 2000);
    const after = (await control.meters()).heapBytes;
    bridgeGrowth = after > before * 1.05 ? after - before : 0;
  } finally {
    await control.close();
  }
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
    // Wait (bounded) for the acknowledgements: the queue is bounded and the test
    // must not rely on drops ("below 4" leaves room for PUBACKs still in flight).
    for (let i = 0; i < 100; i++) {
      const s = (await device.call("moteStatus")) as DeviceStatus;
      if (s.queueDepth < 4) break;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  expect(sent).toBe(n);
}

describe("XS heap", () => {
  test("the host bridge itself does not grow the heap per timer (control)", (ctx) => {
    if (bridgeGrowth > 0 && process.env.CI === undefined) {
      console.log(`SKIP: the XS host bridge keeps ~${Math.round(bridgeGrowth / 2000)} B per fired timer (host-shim/xs); the device-loop heap figure is meaningless until that is fixed`);
      ctx.skip();
    }
    expect(bridgeGrowth).toBe(0);
  });

  test(`stays flat over ${MESSAGES} published messages after warm-up (< 5% growth after gc)`, async (ctx) => {
    if (bridgeGrowth > 0 && process.env.CI === undefined) {
      console.log("SKIP: the bridge leaks per timer (see the control test); run with CI=1 to see this fail");
      ctx.skip();
    }
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
  }, 300_000);
});
