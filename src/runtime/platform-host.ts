/**
 * The runtime's Host on the device and in the simulator: the platform clock,
 * one platform Alarm per wake-up, the platform log, platform randomness.
 */
import { now } from "../platform/clock.js";
import { Alarm } from "../platform/timer.js";
import { log } from "../platform/log.js";
import { randomInt } from "../platform/random.js";
import type { Host } from "./host.js";

const RANDOM_SPAN = 0x40000000; // 2^30: exact in a double, fine-grained enough for jitter

export const platformHost: Host = Object.freeze({
  now,
  alarm: (onAlarm: () => void) => new Alarm(onAlarm),
  log,
  random: () => randomInt(RANDOM_SPAN) / RANDOM_SPAN,
});
