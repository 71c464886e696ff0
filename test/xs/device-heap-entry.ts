/**
 * XS-tier test entry: the default device program (as src/app/main.ts starts it)
 * plus a burst hook for the heap test, which needs many more messages than the
 * telemetry schedule would send in a few seconds.
 */
import { startDevice } from "../../src/app/program.js";
import { now } from "../../src/platform/clock.js";

const app = startDevice();
const g = globalThis as unknown as Record<string, unknown>;
g.moteStatus = () => app.status();
/** Queues up to `n` telemetry records now; returns how many were accepted. */
g.moteBurst = (n: number) => {
  let accepted = 0;
  for (let i = 0; i < n; i++) if (app.telemetryNow()) accepted++;
  return accepted;
};
/** Same, timed with the device clock: { accepted, ms } (for bench/device-loop.ts). */
g.moteBurstTimed = (n: number) => {
  const start = now();
  let accepted = 0;
  for (let i = 0; i < n; i++) if (app.telemetryNow()) accepted++;
  return { accepted, ms: now() - start };
};
