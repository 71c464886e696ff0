/**
 * Monotonic clock: milliseconds since boot, from Moddable's `time` module.
 *
 * On ESP32 `Time.ticks` is the 32-bit millisecond counter (modMilliseconds),
 * which wraps after ~49.7 days. `now()` unwraps it so that deadlines computed
 * as `now() + delay` keep ordering across the wrap, provided it is called at
 * least once per wrap period (every binding's timers do).
 */
import Time from "time";

const WRAP = 0x1_0000_0000;
// The only mutable state of this module: the last raw reading and the
// number of wraps seen. Kept in one frozen-shape object.
const state = { last: -1, epoch: 0 };

/** Monotonic milliseconds. Never decreases. */
export function now(): number {
  const raw = Time.ticks;
  if (raw >= WRAP || raw < 0) return raw; // host counter already wide (desktop)
  if (state.last >= 0 && raw < state.last && state.last - raw > WRAP / 2) state.epoch += WRAP;
  state.last = raw;
  return state.epoch + raw;
}

/**
 * Sets the wall clock (what `Date.now()` reads; TLS checks certificate dates
 * against it) to `unixMs`, through Moddable's `Time.set(seconds)`: on the
 * ESP32 modSetTime (settimeofday); on lin a no-op (the host's clock is right).
 */
export function setWallClock(unixMs: number): void {
  (Time as unknown as { set(seconds: number): void }).set(Math.floor(unixMs / 1000));
}
