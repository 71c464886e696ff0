/**
 * Control for device-heap.test.ts: one-shot platform timers and nothing else,
 * to tell a leak of the device program from a leak of the simulator's host bridge.
 */
import { setTimer } from "../../src/platform/timer.js";

(globalThis as unknown as Record<string, unknown>).fireTimers = (n: number) =>
  new Promise<number>((resolve) => {
    let fired = 0;
    for (let i = 0; i < n; i++) setTimer(() => ++fired === n && resolve(fired), 0);
  });
