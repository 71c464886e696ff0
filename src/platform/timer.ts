/**
 * Timers over Moddable's `timer` module (Timer.set / Timer.repeat / Timer.clear).
 *
 * `Alarm` is the one wake-up a binding needs for a sans-I/O core: after every
 * `core.handle(...)` the binding calls `alarm.arm(core.nextDeadline())` and the
 * alarm fires once at that absolute time (STYLE.md habit 6).
 */
import Timer from "timer";
import { now } from "./clock.js";

export interface TimerHandle {
  readonly __brand: "timer";
}

/** A delay as Timer.set takes it: whole milliseconds, never negative. */
function timerDelay(ms: number): number {
  return ms > 0 ? Math.ceil(ms) : 0;
}

/** Calls `callback` once after `delayMs` (>= 0) milliseconds. */
export function setTimer(callback: () => void, delayMs: number): TimerHandle {
  const delay = timerDelay(delayMs);
  return Timer.set(() => callback(), delay) as unknown as TimerHandle;
}

/** Calls `callback` every `intervalMs` milliseconds until cleared. */
export function setRepeating(callback: () => void, intervalMs: number): TimerHandle {
  const interval = intervalMs > 1 ? Math.ceil(intervalMs) : 1;
  return Timer.repeat(() => callback(), interval) as unknown as TimerHandle;
}

/** Cancels a timer; `undefined` and already-fired one-shot timers are fine. */
export function clearTimer(handle: TimerHandle | undefined): void {
  if (handle !== undefined) Timer.clear(handle as unknown as Timer);
}

/** One re-armable wake-up for a binding driven by `core.nextDeadline()`. */
export class Alarm {
  #onAlarm: (() => void) | undefined;
  #timer: TimerHandle | undefined;
  #deadline: number | undefined;
  /** Made once: a closure per arm() was garbage on every keepalive and save re-arm. */
  readonly #fireNow = (): void => this.#fire();

  constructor(onAlarm: () => void) {
    this.#onAlarm = onAlarm;
  }

  /**
   * Fire once at `deadline` (absolute, in `now()` milliseconds); a deadline in
   * the past fires on the next turn, never synchronously. `undefined` disarms.
   * Re-arming for the deadline already armed keeps the running timer.
   */
  arm(deadline: number | undefined): void {
    if (this.#onAlarm === undefined) return; // closed
    if (deadline === this.#deadline && this.#timer !== undefined) return;
    this.#cancel();
    if (deadline === undefined) return;
    this.#deadline = deadline;
    // Timer.set straight to #fireNow (which ignores the timer argument): setTimer's
    // wrapper was one more closure per arm, garbage on XS at every telemetry period
    this.#timer = Timer.set(this.#fireNow, timerDelay(deadline - now())) as unknown as TimerHandle;
  }

  /** Disarms for good: `onAlarm` is never called after `close()`. */
  close(): void {
    this.#cancel();
    this.#onAlarm = undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#deadline = undefined;
    const onAlarm = this.#onAlarm;
    if (onAlarm !== undefined) onAlarm();
  }

  #cancel(): void {
    clearTimer(this.#timer);
    this.#timer = undefined;
    this.#deadline = undefined;
  }
}
