/**
 * The command channel's security rules (docs/security.md), pure:
 *
 *   - which configuration keys are protected: they decide whom the device
 *     talks to or who it is (`PROTECTED_KEYS`); they change over the command
 *     channel only by a message signed with the OTA key in force
 *     (src/ota/signed.ts), never by a plain `config` command;
 *   - the trust anchor (`otaKey`) changes only by a signed rotation;
 *   - a TLS downgrade (`mqtts://` -> `mqtt://`) is refused signed or not;
 *   - commands that can hurt (reboot, ota, signed messages, a config that
 *     reboots) draw on a bounded token bucket on the monotonic clock;
 *   - what status and logs may show of a key (`keyId`).
 * Every refusal is a `SecurityRefusal` with a literal code; the device
 * program publishes it on the command's reply topic and on `P/ID/error`.
 */
import type { ConfigKey } from "../runtime/config.js";

export { keyId } from "../runtime/config.js";

export type RefusalCode =
  | "signature-required" // a protected key in a plain config command
  | "trust-anchor" // otaKey in a config command: only a signed rotation changes it
  | "tls-downgrade" // mqtts -> mqtt, refused in every case
  | "rate-limited" // the bucket of harmful commands is empty
  | "not-protected"; // a signed config carries a key that is not protected (send it plainly)

/**
 * Keys that decide where the device connects and as whom. The WiFi network
 * is among them: a wrong password set by anyone would cut the device off
 * until someone has it in hand.
 */
export const PROTECTED_KEYS: readonly ConfigKey[] = Object.freeze([
  "ssid",
  "password",
  "broker",
  "mqttUser",
  "mqttPass",
  "clientId",
  "prefix",
] as ConfigKey[]);

/**
 * Trust anchors: the OTA key (changes only by a signed rotation) and the
 * broker's CA (set at build time or provisioning; a signed firmware update
 * can bring a new build-time one). Never set by a config command, signed or not.
 */
export const TRUST_ANCHORS: readonly ConfigKey[] = Object.freeze(["otaKey", "mqttCa"] as ConfigKey[]);

export function isTrustAnchor(key: string): boolean {
  return TRUST_ANCHORS.includes(key as ConfigKey);
}

/** Keys whose value never leaves the device (masked in status, logs and replies). */
export const SECRET_KEYS: readonly ConfigKey[] = Object.freeze(["password", "mqttPass", "mqttUser"] as ConfigKey[]);

export function isProtectedKey(key: string): boolean {
  return PROTECTED_KEYS.includes(key as ConfigKey);
}

/**
 * True when going from broker value `from` to `to` would drop TLS: `from` has
 * an mqtts:// broker and `to` is no broker, or has any entry that is not
 * mqtts:// (a broker list — comma-separated or an array — is judged entry by
 * entry: one plain broker in it is a downgrade).
 */
export function isTlsDowngrade(from: string | undefined, to: unknown): boolean {
  if (from === undefined || !from.split(",").some((u) => u.trim().startsWith("mqtts://"))) return false;
  const entries = Array.isArray(to) ? to : typeof to === "string" ? to.split(",") : undefined;
  if (entries === undefined || entries.length === 0) return true;
  return entries.some((u) => typeof u !== "string" || !u.trim().startsWith("mqtts://"));
}

export interface TokenBucketOptions {
  /** Tokens held at most (the burst). Default 5. */
  readonly capacity: number;
  /** One token comes back every `refillMs`. Default 10000. */
  readonly refillMs: number;
}

export const DEFAULT_RATE_LIMIT: TokenBucketOptions = Object.freeze({ capacity: 5, refillMs: 10_000 });

/**
 * A token bucket on the monotonic clock (`now`, ms, passed in): starts full,
 * `capacity` at most, one token per `refillMs`. State is two numbers, so it
 * is bounded whatever the sender does.
 */
export class TokenBucket {
  readonly #capacity: number;
  readonly #refillMs: number;
  #tokens: number;
  #last: number;

  constructor(options: TokenBucketOptions, now: number) {
    if (!(options.capacity >= 1) || !(options.refillMs >= 1)) throw new RangeError("capacity and refillMs must be >= 1");
    this.#capacity = Math.floor(options.capacity);
    this.#refillMs = options.refillMs;
    this.#tokens = this.#capacity;
    this.#last = now;
  }

  #refill(now: number): void {
    if (now <= this.#last) return; // a clock that stands still (or goes back) gives nothing
    const earned = Math.floor((now - this.#last) / this.#refillMs);
    if (earned <= 0) return;
    this.#tokens = Math.min(this.#capacity, this.#tokens + earned);
    // Keep the remainder toward the next token, unless the bucket is full.
    this.#last = this.#tokens === this.#capacity ? now : this.#last + earned * this.#refillMs;
  }

  /** Takes one token; false (and nothing taken) when the bucket is empty. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  tokens(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** When the next token comes, ms from `now` (0 when one is there). */
  waitMs(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : this.#last + this.#refillMs - now;
  }
}
