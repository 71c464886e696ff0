/**
 * Node twin of Moddable's `timer` module (documentation/base/timer.md):
 * Timer.set(callback, delay, repeat?) / Timer.repeat(callback, interval) /
 * Timer.schedule(timer, delay, repeat?) / Timer.clear(timer) / Timer.delay(ms).
 * The callback receives the timer; a one-shot timer is finished after it fires
 * (clearing it then is harmless), as on the device.
 */
import { trackHandle, untrackHandle } from "./hardware.js";

type Callback = (timer: HostTimer) => void;

class HostTimer {
  #callback: Callback;
  #once: ReturnType<typeof setTimeout> | undefined;
  #every: ReturnType<typeof setInterval> | undefined;
  #closer = { close: () => this.clear() };

  constructor(callback: Callback) {
    this.#callback = callback;
  }

  schedule(delay: number, repeat?: number): void {
    this.clear();
    trackHandle(this.#closer);
    const first = Math.max(0, Number(delay) || 0);
    this.#once = setTimeout(() => {
      this.#once = undefined;
      if (repeat !== undefined && repeat > 0) {
        this.#every = setInterval(() => this.#callback(this), Math.max(1, repeat));
      } else untrackHandle(this.#closer);
      this.#callback(this);
    }, first);
  }

  clear(): void {
    if (this.#once !== undefined) clearTimeout(this.#once);
    if (this.#every !== undefined) clearInterval(this.#every);
    this.#once = undefined;
    this.#every = undefined;
    untrackHandle(this.#closer);
  }
}

const Timer = {
  set(callback: Callback, delay = 0, repeat?: number): HostTimer {
    const t = new HostTimer(callback);
    t.schedule(delay, repeat);
    return t;
  },
  repeat(callback: Callback, interval: number): HostTimer {
    const t = new HostTimer(callback);
    t.schedule(interval, interval);
    return t;
  },
  schedule(timer: HostTimer, delay = 0, repeat?: number): void {
    timer.schedule(delay, repeat);
  },
  clear(timer: HostTimer | undefined | null): void {
    timer?.clear();
  },
  /** Blocks the thread like Moddable's Timer.delay. */
  delay(ms: number): void {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, ms));
  },
};

export default Timer;
