/**
 * Supervisor core: restarts failed parts with backoff; one part never stops another.
 *
 * Theory of operation. The device program is a few independent parts (WiFi,
 * MQTT, telemetry, CoAP observers...). Each part is started, reports `up` when it
 * works and `failed` when it stops working. A failed part is stopped (so its
 * binding releases sockets and timers), then started again after a delay from
 * its own `Backoff` — parts do not share a delay, so a broken CoAP server does
 * not slow the MQTT reconnect. Events about a part that is not in a state to
 * receive them (e.g. `failed` while already waiting) are stale and ignored.
 * Pure (STYLE.md habit 1): `handle(event, now)` returns actions, `nextDeadline()`
 * says when to call `handle({type: "timer"}, now)` next; the binding in
 * supervisor.ts owns the timer and runs the parts.
 */
import { MoteError } from "../errors.js";
import { Backoff, type BackoffOptions } from "./backoff.js";

/** One state per part (STYLE.md habit 2). */
export type PartState = "stopped" | "starting" | "running" | "waiting";

export type SupervisorEvent =
  | { type: "start" } // start every stopped part
  | { type: "stop" } // stop every part
  | { type: "up"; part: string }
  | { type: "failed"; part: string; reason: string }
  | { type: "restart"; part: string; reason: string } // stop now, start again at once (e.g. new settings)
  | { type: "timer" };

export type SupervisorAction =
  | { type: "start-part"; part: string }
  | { type: "stop-part"; part: string }
  | { type: "log"; level: "info" | "warn"; message: string };

export interface PartHealth {
  readonly state: PartState;
  /** Times the part failed and was scheduled for a restart. */
  readonly restarts: number;
  /** Reason of the last failure, if any. */
  readonly lastError: string | undefined;
  /** When the current state was entered. */
  readonly since: number;
  /** When a waiting part will be started again. */
  readonly retryAt: number | undefined;
}

export interface SupervisorOptions {
  /** Bound on registered parts. Default 16; `addPart` beyond it throws MoteError("too-many-parts"). */
  maxParts?: number;
  /** Backoff of each part (its own instance). `rng` is required. */
  backoff: BackoffOptions;
}

export type SupervisorErrorCode = "too-many-parts" | "duplicate-part" | "unknown-part";

interface PartRecord {
  state: PartState;
  restarts: number;
  lastError: string | undefined;
  since: number;
  retryAt: number | undefined;
  readonly backoff: Backoff;
}

export class SupervisorCore {
  readonly #parts = new Map<string, PartRecord>();
  readonly #maxParts: number;
  readonly #backoff: BackoffOptions;

  constructor(options: SupervisorOptions) {
    this.#maxParts = options.maxParts ?? 16;
    this.#backoff = options.backoff;
    new Backoff(options.backoff); // validate the options once, at construction
  }

  /** Registers a part (stopped). Parts added after `start` are started by the next `start`. */
  addPart(name: string, backoff?: Partial<BackoffOptions>): void {
    if (this.#parts.has(name)) throw new MoteError<SupervisorErrorCode>("duplicate-part", name);
    if (this.#parts.size >= this.#maxParts)
      throw new MoteError<SupervisorErrorCode>("too-many-parts", `limit ${this.#maxParts}`);
    this.#parts.set(name, {
      state: "stopped",
      restarts: 0,
      lastError: undefined,
      since: 0,
      retryAt: undefined,
      backoff: new Backoff({ ...this.#backoff, ...backoff }),
    });
  }

  handle(event: SupervisorEvent, now: number): SupervisorAction[] {
    const out: SupervisorAction[] = [];
    switch (event.type) {
      case "start":
        for (const [name, p] of this.#parts) if (p.state === "stopped") this.#start(name, p, now, out);
        break;
      case "stop":
        for (const [name, p] of this.#parts) {
          if (p.state === "starting" || p.state === "running") out.push({ type: "stop-part", part: name });
          this.#enter(p, "stopped", now);
          p.retryAt = undefined;
        }
        break;
      case "up": {
        const p = this.#get(event.part);
        if (p.state !== "starting" && p.state !== "running") break; // stale
        if (p.state === "starting") this.#enter(p, "running", now);
        p.backoff.succeeded(now);
        break;
      }
      case "failed": {
        const p = this.#get(event.part);
        if (p.state !== "starting" && p.state !== "running") break; // stale: already waiting or stopped
        out.push({ type: "stop-part", part: event.part });
        const delay = p.backoff.failed(now);
        p.restarts++;
        p.lastError = event.reason;
        this.#enter(p, "waiting", now);
        p.retryAt = now + delay;
        out.push({ type: "log", level: "warn", message: `${event.part} failed (${event.reason}); restart in ${delay} ms` });
        break;
      }
      case "restart": {
        const p = this.#get(event.part);
        if (p.state === "stopped") break;
        if (p.state !== "waiting") out.push({ type: "stop-part", part: event.part });
        p.backoff.reset();
        out.push({ type: "log", level: "info", message: `${event.part} restarted (${event.reason})` });
        this.#start(event.part, p, now, out);
        break;
      }
      case "timer":
        for (const [name, p] of this.#parts)
          if (p.state === "waiting" && p.retryAt !== undefined && now >= p.retryAt) this.#start(name, p, now, out);
        break;
    }
    return out;
  }

  /** Earliest pending restart, or undefined when nothing waits. */
  nextDeadline(): number | undefined {
    let d: number | undefined;
    for (const p of this.#parts.values())
      if (p.state === "waiting" && p.retryAt !== undefined && (d === undefined || p.retryAt < d)) d = p.retryAt;
    return d;
  }

  state(part: string): PartState {
    return this.#get(part).state;
  }

  /** Health of every part, for status displays and the status topic. */
  health(): Record<string, PartHealth> {
    const out: Record<string, PartHealth> = {};
    for (const [name, p] of this.#parts)
      out[name] = { state: p.state, restarts: p.restarts, lastError: p.lastError, since: p.since, retryAt: p.retryAt };
    return out;
  }

  #start(name: string, p: PartRecord, now: number, out: SupervisorAction[]): void {
    this.#enter(p, "starting", now);
    p.retryAt = undefined;
    out.push({ type: "start-part", part: name });
  }

  #enter(p: PartRecord, state: PartState, now: number): void {
    if (p.state !== state) p.since = now;
    p.state = state;
  }

  #get(name: string): PartRecord {
    const p = this.#parts.get(name);
    if (p === undefined) throw new MoteError<SupervisorErrorCode>("unknown-part", name);
    return p;
  }
}
