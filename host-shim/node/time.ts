/**
 * Node twin of Moddable's `time` module. `ticks` is a monotonic millisecond
 * counter (performance.now(), integer like on the device); `set` moves the
 * wall clock offset the way Moddable's Time.set does (seconds since epoch).
 */
import { performance } from "node:perf_hooks";

let wallOffsetMs = 0;

const Time = {
  get ticks(): number {
    return Math.floor(performance.now());
  },
  get microseconds(): number {
    return Math.floor(performance.now() * 1000);
  },
  /** Milliseconds from `start` to `end` (default: now). */
  delta(start: number, end?: number): number {
    return (end ?? Math.floor(performance.now())) - start;
  },
  /** Sets the wall clock (seconds since 1970) as seen by `Date` inside the device. */
  set(seconds: number): void {
    wallOffsetMs = seconds * 1000 - Date.now();
  },
  /** Wall clock milliseconds as set by `set` (not part of Moddable's API; for the simulator). */
  get wallClock(): number {
    return Date.now() + wallOffsetMs;
  },
  timezone: 0,
  dst: 0,
};

export default Time;
