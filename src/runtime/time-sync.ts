/**
 * Wall-clock time as a part of the supervisor.
 *
 * Theory of operation. TLS checks a certificate's validity dates against the
 * wall clock, which an ESP32 does not have at boot. Once WiFi has an address
 * this part asks a time source (SNTP, src/net/sntp-query.ts) once; an answer
 * sets the clock and the part is `up`; it asks again every `resyncMs`. A
 * failure (no answer, DNS, Kiss-o'-Death, a bogus reply) is logged, kept in
 * `status()` and reported to the supervisor, which restarts the part after its
 * own backoff (`SNTP_BACKOFF`: never sooner than 15 s, RFC 4330 §10). Nothing
 * waits for this part: boot, MQTT and telemetry go on with or without time.
 */
import type { Part, PartContext } from "./supervisor.js";
import type { AlarmLike, Host, Logger } from "./host.js";
import type { BackoffOptions } from "./backoff.js";

export type TimeState = "off" | "waiting-wifi" | "querying" | "synced" | "failed";

export type TimeResult =
  | { readonly unixMs: number; readonly delayMs: number; readonly stratum: number; readonly address: string }
  | { readonly error: string };

/** One query per call; the callback runs once, asynchronously, unless cancelled. */
export interface TimeSource {
  query(callback: (result: TimeResult) => void): { cancel(): void };
}

export interface TimeStatus {
  readonly state: TimeState;
  readonly server: string;
  /** Unix ms the clock was last set to, and how many times it was set. */
  readonly syncedAt: number | undefined;
  readonly syncs: number;
  /** Why the last attempt failed, until one succeeds. */
  readonly error: string | undefined;
}

/** Default interval between two successful synchronisations: 6 h. */
export const DEFAULT_RESYNC_MS = 6 * 3_600_000;

/**
 * Backoff of the time part. RFC 4330 §10: a client must never poll a server
 * more often than once per 15 seconds; full jitter above that, up to 15 min.
 */
export const SNTP_BACKOFF: Partial<BackoffOptions> = Object.freeze({ baseMs: 30_000, minMs: 15_000, maxMs: 900_000 });

export interface TimeSyncOptions {
  host: Host;
  log: Logger;
  source: TimeSource;
  /** Shown in status and logs ("pool.ntp.org", "10.0.0.2:123"). */
  server: string;
  /** Sets the wall clock (Unix ms). */
  setClock(unixMs: number): void;
  resyncMs?: number;
}

export class TimeSync {
  readonly #o: TimeSyncOptions;
  #ctx: PartContext | undefined;
  #query: { cancel(): void } | undefined;
  #resync: AlarmLike | undefined;
  #online = false;
  #state: TimeState = "off";
  #syncedAt: number | undefined;
  #syncs = 0;
  #error: string | undefined;

  constructor(options: TimeSyncOptions) {
    this.#o = options;
  }

  /** The part the supervisor runs. */
  part(): Part {
    return {
      start: (ctx) => {
        this.#ctx = ctx;
        if (this.#online) this.#ask(ctx);
        else this.#state = "waiting-wifi";
      },
      stop: () => {
        this.#ctx = undefined;
        this.#query?.cancel();
        this.#query = undefined;
        this.#resync?.close();
        this.#resync = undefined;
        if (this.#state !== "failed") this.#state = "off";
      },
    };
  }

  /** WiFi has (or lost) an address. */
  network(up: boolean): void {
    this.#online = up;
    const ctx = this.#ctx;
    if (up && ctx !== undefined && ctx.alive && this.#state === "waiting-wifi") this.#ask(ctx);
  }

  status(): TimeStatus {
    return { state: this.#state, server: this.#o.server, syncedAt: this.#syncedAt, syncs: this.#syncs, error: this.#error };
  }

  #ask(ctx: PartContext): void {
    this.#state = "querying";
    this.#query = this.#o.source.query((result) => {
      this.#query = undefined;
      if (!ctx.alive) return;
      if ("error" in result) {
        this.#fail(ctx, result.error);
        return;
      }
      try {
        this.#o.setClock(result.unixMs);
      } catch {
        this.#fail(ctx, "clock");
        return;
      }
      this.#state = "synced";
      this.#syncedAt = result.unixMs;
      this.#syncs++;
      this.#error = undefined;
      this.#o.log.info(`time set from ${this.#o.server} (${result.address}, stratum ${result.stratum}, delay ${result.delayMs} ms)`);
      ctx.up();
      this.#resync ??= this.#o.host.alarm(() => {
        const c = this.#ctx;
        if (c !== undefined && c.alive) this.#ask(c);
      });
      this.#resync.arm(this.#o.host.now() + (this.#o.resyncMs ?? DEFAULT_RESYNC_MS));
    });
  }

  #fail(ctx: PartContext, error: string): void {
    this.#state = "failed";
    this.#error = error;
    this.#o.log.warn(`time: sync with ${this.#o.server} failed (${error})`);
    ctx.fail(error);
  }
}
