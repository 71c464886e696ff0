/**
 * Supervisor binding: runs the parts the core tells it to start and stop,
 * re-arms one alarm at `core.nextDeadline()`, and turns a part's report
 * (`up`, `fail`, or an exception thrown by its `start`) into core events.
 *
 * Every start hands the part a fresh `PartContext`; reports through an older
 * context (a socket callback that fires after the part was restarted) are
 * dropped here, so a late error from a dead connection cannot fail the new one.
 * Events raised while actions run (a part that reports `up` synchronously from
 * `start`) are queued and handled after, bounded by `MAX_PENDING`.
 */
import { SupervisorCore, type SupervisorAction, type SupervisorEvent, type SupervisorOptions, type PartHealth } from "./supervisor-core.js";
import type { BackoffOptions } from "./backoff.js";
import { describeError, type AlarmLike, type Host } from "./host.js";

export interface PartContext {
  /** The part works (e.g. connected). Resets its backoff after a stable run. Calls after the first of a start are free. */
  up(): void;
  /** The part stopped working; it will be stopped and started again after a delay. */
  fail(reason: string): void;
  /** False once the part was stopped: late callbacks can check it and return. */
  readonly alive: boolean;
}

export interface Part {
  start(ctx: PartContext): void;
  /** Release everything `start` acquired. Called once per start, before any restart. */
  stop(): void;
}

/** Bound on events queued while actions run. Beyond it events are dropped with a log line. */
const MAX_PENDING = 64;

export class Supervisor {
  readonly #core: SupervisorCore;
  readonly #host: Host;
  readonly #parts = new Map<string, Part>();
  readonly #contexts = new Map<string, { alive: boolean; up: boolean }>();
  readonly #alarm: AlarmLike;
  readonly #pending: SupervisorEvent[] = [];
  #busy = false;

  constructor(host: Host, options: Omit<SupervisorOptions, "backoff"> & { backoff?: Partial<BackoffOptions> }) {
    this.#host = host;
    this.#core = new SupervisorCore({ ...options, backoff: { rng: host.random, ...options.backoff } });
    this.#alarm = host.alarm(() => this.#feed({ type: "timer" }));
  }

  add(name: string, part: Part, backoff?: Partial<BackoffOptions>): void {
    this.#core.addPart(name, backoff);
    this.#parts.set(name, part);
  }

  start(): void {
    this.#feed({ type: "start" });
  }

  /** Stops every part; the supervisor can be started again. */
  stop(): void {
    this.#feed({ type: "stop" });
  }

  /** Stops and at once restarts `name` (e.g. its settings changed). */
  restart(name: string, reason: string): void {
    this.#feed({ type: "restart", part: name, reason });
  }

  /** Report a failure of `name` from outside the part (e.g. a watchdog). */
  fail(name: string, reason: string): void {
    this.#feed({ type: "failed", part: name, reason });
  }

  health(): Record<string, PartHealth> {
    return this.#core.health();
  }

  close(): void {
    this.stop();
    this.#alarm.close();
  }

  #feed(event: SupervisorEvent): void {
    if (this.#busy) {
      if (this.#pending.length >= MAX_PENDING) {
        this.#host.log("error", `supervisor: event queue full, dropped ${event.type}`);
        return;
      }
      this.#pending.push(event);
      return;
    }
    this.#busy = true;
    try {
      let next: SupervisorEvent | undefined = event;
      while (next !== undefined) {
        for (const action of this.#core.handle(next, this.#host.now())) this.#run(action);
        next = this.#pending.shift();
      }
    } finally {
      this.#busy = false;
    }
    this.#alarm.arm(this.#core.nextDeadline());
  }

  #run(action: SupervisorAction): void {
    switch (action.type) {
      case "log":
        this.#host.log(action.level, `supervisor: ${action.message}`);
        return;
      case "stop-part": {
        const ctx = this.#contexts.get(action.part);
        if (ctx !== undefined) ctx.alive = false;
        this.#contexts.delete(action.part);
        try {
          this.#parts.get(action.part)?.stop();
        } catch (e) {
          this.#host.log("error", `supervisor: ${action.part} stop threw ${describeError(e)}`);
        }
        return;
      }
      case "start-part": {
        const name = action.part;
        const state = { alive: true, up: false };
        this.#contexts.set(name, state);
        const ctx: PartContext = {
          // Told once per start: a part may call up() per message (an Observe notification), and
          // a second "up" changes nothing in the core (the part is running, its backoff already up).
          up: () => {
            if (!state.alive || state.up) return;
            state.up = true;
            this.#feed({ type: "up", part: name });
          },
          fail: (reason) => {
            if (state.alive) this.#feed({ type: "failed", part: name, reason });
          },
          get alive() {
            return state.alive;
          },
        };
        try {
          this.#parts.get(name)?.start(ctx);
        } catch (e) {
          // A part that throws while starting fails like any other: restarted with backoff.
          if (state.alive) this.#pending.push({ type: "failed", part: name, reason: `start threw: ${describeError(e)}` });
        }
        return;
      }
    }
  }
}
