/**
 * The CoAP bindings' view of the device: src/platform's clock, timer, UDP,
 * DNS and random source behind the small `CoapHost` interface (driver.ts).
 */
import { now } from "../platform/clock.js";
import { resolveHost } from "../platform/dns.js";
import { randomInt } from "../platform/random.js";
import { Alarm } from "../platform/timer.js";
import { openUdp } from "../platform/udp.js";
import type { CoapHost } from "./driver.js";

const RANDOM_RANGE = 0x40000000;

/** A host over src/platform; a new object per call (no module state). */
export function platformHost(): CoapHost {
  return {
    now,
    random: () => randomInt(RANDOM_RANGE) / RANDOM_RANGE,
    openUdp: (options) => openUdp(options),
    resolveHost: (host, callback) => resolveHost(host, callback),
    createAlarm: (onAlarm) => new Alarm(onAlarm),
  };
}
