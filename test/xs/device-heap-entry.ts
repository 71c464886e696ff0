/**
 * XS-tier test entry: the device program exactly as src/app/main.ts starts it,
 * plus burst hooks for the heap test and the bench, which need many more
 * messages than the telemetry schedule would send in a few seconds.
 */
import { startDevice } from "../../src/app/program.js";
import { platformOta } from "../../src/app/ota.js";
import { platformCoap } from "../../src/app/adapters/coap.js";
import { restart } from "../../src/platform/ota.js";
import { now } from "../../src/platform/clock.js";

const app = startDevice({ otaFactory: platformOta, coap: platformCoap, reboot: (reason) => restart(reason) });
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
