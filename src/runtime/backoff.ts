/**
 * Reconnect backoff: exponential, full jitter, capped, reset after a stable run.
 *
 * Theory of operation. Each failure of a link (WiFi, broker, CoAP peer) asks
 * `failed(now)` for the delay before the next attempt. The ceiling doubles with
 * every consecutive failure (`baseMs * factor^n`, capped at `maxMs`) and the
 * delay is drawn uniformly from [0, ceiling) — "full jitter", so that a fleet
 * that lost its broker at the same instant does not come back in lock-step.
 * A link that stayed up for `stableMs` is considered healthy again: the next
 * failure starts from `baseMs`. A link that flaps (up, then down again within
 * `stableMs`) keeps climbing. Pure: no clock, no timers; `rng` is passed in so
 * tests are deterministic.
 */
import { MoteError } from "../errors.js";
export { seededRandom } from "../util/prng.js";

export interface BackoffOptions {
  /** First ceiling, ms. Default 1000. */
  baseMs?: number;
  /** Largest ceiling, ms. Default 60000. */
  maxMs?: number;
  /** Growth per consecutive failure. Default 2. */
  factor?: number;
  /** Up this long (ms) and the sequence starts over. Default 30000. */
  stableMs?: number;
  /** Smallest delay returned, ms (so a failure never spins). Default 0. */
  minMs?: number;
  /** Uniform random number in [0, 1). */
  rng: () => number;
}

export type BackoffErrorCode = "invalid-option";

export class Backoff {
  readonly #base: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #stable: number;
  readonly #min: number;
  readonly #rng: () => number;
  /** Consecutive failures since the last reset. */
  #attempt = 0;
  /** When the link last came up, or undefined while it is down. */
  #upSince: number | undefined;

  constructor(options: BackoffOptions) {
    this.#base = check("baseMs", options.baseMs ?? 1000, 1);
    this.#max = check("maxMs", options.maxMs ?? 60_000, this.#base);
    this.#factor = check("factor", options.factor ?? 2, 1);
    this.#stable = check("stableMs", options.stableMs ?? 30_000, 0);
    this.#min = check("minMs", options.minMs ?? 0, 0);
    if (this.#min > this.#max) throw new MoteError<BackoffErrorCode>("invalid-option", "minMs > maxMs");
    if (typeof options.rng !== "function") throw new MoteError<BackoffErrorCode>("invalid-option", "rng");
    this.#rng = options.rng;
  }

  /** Consecutive failures counted so far. */
  get attempts(): number {
    return this.#attempt;
  }

  /** The link came up at `now`. */
  succeeded(now: number): void {
    if (this.#upSince === undefined) this.#upSince = now;
  }

  /** The link failed (or an attempt failed) at `now`: returns the delay before the next attempt. */
  failed(now: number): number {
    if (this.#upSince !== undefined && now - this.#upSince >= this.#stable) this.#attempt = 0;
    this.#upSince = undefined;
    const ceiling = this.ceiling();
    this.#attempt++;
    let r = this.#rng();
    if (!(r >= 0) || r >= 1) r = 0.5; // a broken rng must not produce NaN or negative delays
    return Math.max(this.#min, Math.floor(r * ceiling));
  }

  /** Ceiling of the next delay, ms (for status displays). */
  ceiling(): number {
    // Computed by repeated multiplication with an early stop: no overflow to Infinity.
    let c = this.#base;
    for (let i = 0; i < this.#attempt && c < this.#max; i++) c *= this.#factor;
    return Math.min(c, this.#max);
  }

  /** Forget the history (e.g. after the configuration changed). */
  reset(): void {
    this.#attempt = 0;
    this.#upSince = undefined;
  }
}

function check(name: string, value: number, min: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min)
    throw new MoteError<BackoffErrorCode>("invalid-option", `${name} must be a finite number >= ${min}`);
  return value;
}

