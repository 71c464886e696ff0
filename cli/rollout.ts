/**
 * The staged rollout of `mote ota deploy`, as a pure state machine: events
 * (a device's reply or announce, the clock) and `now` in, actions (send the
 * descriptor, ask a device to announce itself, a stage began, a device
 * finished, halted, finished) out. No I/O and no timers: ota-deploy.ts binds
 * it to MQTT and a timer armed at `nextDeadline()`.
 *
 * Stages: the first `canary` devices (in target order), then waves of `wave`
 * devices. A stage starts when the one before it has ended (every device in it
 * succeeded or failed). When the failures pass `maxFailures`, no further stage
 * starts: the devices in flight are followed to their end and the rollout
 * halts. A halted rollout resumes from its `snapshot()` (`Rollout.resume`):
 * devices that succeeded are left alone, the others go out in new stages.
 *
 * A device succeeds only when it announces the new version with its slot kept
 * by the health check (`slotState` "valid"; a build without slots announces
 * none, and the version alone counts). It fails on an error reply, on an
 * announce after a reboot that shows another version (rolled back to the old
 * slot), or when `deviceTimeoutMs` passes without either.
 */

/** "5" (devices) or "10%" (of the targets). */
export type Amount = { readonly count: number } | { readonly percent: number };

export function parseAmount(text: string, what: string): Amount {
  const m = /^(\d{1,6})(%?)$/.exec(text.trim());
  if (m === null) throw new RolloutError("usage", `${what} must be a count or a percentage (5, 10%), not "${text}"`);
  const n = Number(m[1]);
  if (m[2] === "%") {
    if (n > 100) throw new RolloutError("usage", `${what} must be at most 100%`);
    return { percent: n };
  }
  return { count: n };
}

/** The number of devices `amount` means out of `total`: a percentage rounds up. */
export function resolveAmount(amount: Amount, total: number): number {
  const n = "count" in amount ? amount.count : Math.ceil((total * amount.percent) / 100);
  return Math.max(0, Math.min(total, n));
}

export class RolloutError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RolloutOptions {
  /** Version of the descriptor being rolled out. */
  readonly version: string;
  /** Devices in the first stage. Default 1 device. 0: no canary, waves only. */
  readonly canary?: Amount;
  /** Devices per later stage. Default all the rest in one wave. */
  readonly wave?: Amount;
  /** Failures tolerated: one more halts the rollout. Default 0. A percentage is of the targets. */
  readonly maxFailures?: Amount;
  /** From sending to a device to its verdict, ms. Default 300 000. */
  readonly deviceTimeoutMs?: number;
  /** While waiting for a device's announce, ask again this often, ms. Default 5000. */
  readonly helloEveryMs?: number;
}

/** What a device said about itself (`P/ID/announce`, src/app/device.ts). */
export interface Announce {
  readonly version?: string;
  readonly boot?: number;
  readonly slot?: string;
  readonly slotState?: string;
}

export type DevicePhase = "waiting" | "sent" | "installing" | "rebooting" | "succeeded" | "failed";

export interface DeviceRecord {
  readonly id: string;
  phase: DevicePhase;
  /** Stage it went out in (0 = canary), -1 before. */
  stage: number;
  /** What it announced before the update. */
  from?: Announce;
  /** What it announced last. */
  last?: Announce;
  /** Last progress or outcome words. */
  detail: string;
  /** Why it failed: the device's error code, "rollback" or "timeout". */
  code?: string;
  sentAt?: number;
  endedAt?: number;
  /** Next hello while waiting for its announce. */
  helloAt?: number;
}

export type RolloutEvent =
  | { readonly type: "start" }
  | { readonly type: "tick" }
  | { readonly type: "announce"; readonly id: string; readonly announce: Announce }
  | { readonly type: "reply"; readonly id: string; readonly reply: { type?: unknown; detail?: unknown; code?: unknown; reboot?: unknown } };

export type RolloutAction =
  | { readonly type: "stage"; readonly stage: number; readonly ids: readonly string[] }
  | { readonly type: "send"; readonly id: string }
  | { readonly type: "hello"; readonly id: string }
  | { readonly type: "progress"; readonly id: string; readonly detail: string }
  | { readonly type: "result"; readonly id: string; readonly ok: boolean; readonly code?: string; readonly detail: string }
  | { readonly type: "halt"; readonly failures: number; readonly maxFailures: number }
  | { readonly type: "finished" };

/** The rollout as JSON (the `--resume` state file). */
export interface RolloutSnapshot {
  readonly format: 1;
  readonly version: string;
  readonly state: "running" | "halted" | "finished";
  readonly stage: number;
  readonly canary: Amount;
  readonly wave: Amount;
  readonly maxFailures: Amount;
  readonly deviceTimeoutMs: number;
  readonly devices: readonly DeviceRecord[];
}

const ENDED: ReadonlySet<DevicePhase> = new Set(["succeeded", "failed"]);
const IN_FLIGHT: ReadonlySet<DevicePhase> = new Set(["sent", "installing", "rebooting"]);

export class Rollout {
  readonly version: string;
  readonly #devices: DeviceRecord[];
  readonly #byId = new Map<string, DeviceRecord>();
  readonly #canary: Amount;
  readonly #wave: Amount;
  readonly #maxFailures: Amount;
  readonly #timeoutMs: number;
  readonly #helloMs: number;
  #state: "idle" | "running" | "halting" | "halted" | "finished" = "idle";
  /** Index of the last stage started, -1 before. */
  #stage = -1;
  /** Stage numbers from this run on (a resume continues the numbering). */
  readonly #firstStage: number;
  /** Failures counted against the threshold (a resume starts again at 0). */
  #failures = 0;

  constructor(ids: readonly string[], options: RolloutOptions, previous?: { devices: readonly DeviceRecord[]; stage: number }) {
    this.version = options.version;
    this.#canary = options.canary ?? { count: 1 };
    this.#wave = options.wave ?? { percent: 100 };
    this.#maxFailures = options.maxFailures ?? { count: 0 };
    this.#timeoutMs = options.deviceTimeoutMs ?? 300_000;
    this.#helloMs = options.helloEveryMs ?? 5000;
    if (!(this.#timeoutMs > 0) || !(this.#helloMs > 0)) throw new RolloutError("usage", "timeouts must be positive");
    this.#devices = [];
    for (const id of ids) {
      if (this.#byId.has(id)) continue; // a device listed twice gets it once
      const old = previous?.devices.find((d) => d.id === id);
      const d: DeviceRecord =
        old?.phase === "succeeded"
          ? { ...old }
          : { id, phase: "waiting", stage: -1, detail: "", ...(old?.from !== undefined ? { from: old.from } : {}) };
      this.#devices.push(d);
      this.#byId.set(id, d);
    }
    if ("count" in this.#wave && this.#wave.count < 1) throw new RolloutError("usage", "--wave must be at least 1 device");
    if ("percent" in this.#wave && this.#wave.percent < 1) throw new RolloutError("usage", "--wave must be at least 1%");
    this.#stage = previous?.stage ?? -1;
    this.#firstStage = this.#stage + 1;
  }

  /** Resumes a halted (or interrupted) rollout: options given now override the snapshot's. */
  static resume(snapshot: RolloutSnapshot, options: Partial<RolloutOptions> = {}): Rollout {
    if (snapshot.format !== 1 || !Array.isArray(snapshot.devices)) throw new RolloutError("bad-state", "not a rollout state file (format 1)");
    if (snapshot.state === "finished") throw new RolloutError("finished", "this rollout has finished: nothing to resume");
    const anySucceeded = snapshot.devices.some((d) => d.phase === "succeeded");
    return new Rollout(
      snapshot.devices.map((d) => d.id),
      {
        version: snapshot.version,
        // the canary is done once a device has taken the update; otherwise it runs again
        canary: options.canary ?? (anySucceeded ? { count: 0 } : snapshot.canary),
        wave: options.wave ?? snapshot.wave,
        maxFailures: options.maxFailures ?? snapshot.maxFailures,
        deviceTimeoutMs: options.deviceTimeoutMs ?? snapshot.deviceTimeoutMs,
        helloEveryMs: options.helloEveryMs,
      },
      { devices: snapshot.devices, stage: snapshot.stage },
    );
  }

  get state(): "idle" | "running" | "halting" | "halted" | "finished" {
    return this.#state;
  }

  get devices(): readonly Readonly<DeviceRecord>[] {
    return this.#devices;
  }

  /** The failure count that halts: one more than this. */
  get maxFailures(): number {
    return resolveAmount(this.#maxFailures, this.#devices.length);
  }

  get failures(): number {
    return this.#failures;
  }

  /** What a device announced before the rollout (discovery): the baseline a rollback is seen against. */
  baseline(id: string, announce: Announce): void {
    const d = this.#byId.get(id);
    if (d !== undefined && d.phase === "waiting") d.from = { ...announce };
  }

  handle(event: RolloutEvent, now: number): RolloutAction[] {
    const out: RolloutAction[] = [];
    switch (event.type) {
      case "start":
        if (this.#state !== "idle") return out;
        this.#state = "running";
        break;
      case "tick":
        for (const d of this.#devices) {
          if (!IN_FLIGHT.has(d.phase)) continue;
          if (d.sentAt !== undefined && now >= d.sentAt + this.#timeoutMs) {
            this.#end(d, false, now, out, "timeout", `no verdict within ${Math.round(this.#timeoutMs / 1000)} s (${d.phase})`);
          } else if (d.phase === "rebooting" && d.helloAt !== undefined && now >= d.helloAt) {
            d.helloAt = now + this.#helloMs;
            out.push({ type: "hello", id: d.id });
          }
        }
        break;
      case "reply":
        this.#reply(event.id, event.reply, now, out);
        break;
      case "announce":
        this.#announce(event.id, event.announce, now, out);
        break;
    }
    this.#advance(now, out);
    return out;
  }

  /** When `handle({type: "tick"})` must run next; undefined when nothing waits on the clock. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const d of this.#devices) {
      if (!IN_FLIGHT.has(d.phase) || d.sentAt === undefined) continue;
      let t = d.sentAt + this.#timeoutMs;
      if (d.phase === "rebooting" && d.helloAt !== undefined) t = Math.min(t, d.helloAt);
      next = next === undefined ? t : Math.min(next, t);
    }
    return next;
  }

  snapshot(): RolloutSnapshot {
    const state = this.#state === "finished" ? "finished" : this.#state === "halted" ? "halted" : "running";
    return {
      format: 1,
      version: this.version,
      state,
      stage: this.#stage,
      canary: this.#canary,
      wave: this.#wave,
      maxFailures: this.#maxFailures,
      deviceTimeoutMs: this.#timeoutMs,
      devices: this.#devices.map((d) => ({ ...d })),
    };
  }

  #reply(id: string, reply: { type?: unknown; detail?: unknown; code?: unknown; reboot?: unknown }, now: number, out: RolloutAction[]): void {
    const d = this.#byId.get(id);
    if (d === undefined || !IN_FLIGHT.has(d.phase)) return;
    const detail = typeof reply.detail === "string" ? reply.detail.slice(0, 200) : "";
    if (reply.type === "progress") {
      if (d.phase === "sent") d.phase = "installing";
      d.detail = detail;
      out.push({ type: "progress", id, detail });
    } else if (reply.type === "error") {
      if (reply.code === "up-to-date" || /^up-to-date\b/.test(detail)) {
        this.#end(d, true, now, out, undefined, `already runs ${this.version}`);
        return;
      }
      const code = typeof reply.code === "string" && /^[a-z0-9-]{1,32}$/.test(reply.code) ? reply.code : (/^([a-z0-9-]{1,32}):/.exec(detail)?.[1] ?? "error");
      this.#end(d, false, now, out, code, detail);
    } else if (reply.type === "done") {
      // installed and switched: the verdict is the announce after the reboot
      d.phase = "rebooting";
      d.detail = detail;
      d.helloAt = now + this.#helloMs;
      out.push({ type: "progress", id, detail: `${detail}; waiting for the health check` });
    }
  }

  #announce(id: string, a: Announce, now: number, out: RolloutAction[]): void {
    const d = this.#byId.get(id);
    if (d === undefined) return;
    d.last = { ...a };
    if (d.phase === "waiting") {
      d.from = { ...a };
      return;
    }
    if (!IN_FLIGHT.has(d.phase)) return;
    const rebooted = a.boot !== undefined && d.from?.boot !== undefined ? a.boot > d.from.boot : d.phase === "rebooting";
    if (a.version === this.version) {
      // pending-verify: the health check has not decided yet; invalid: it is rolling back
      if (a.slotState === undefined || a.slotState === "valid") this.#end(d, true, now, out, undefined, `${a.version}${a.slot ? ` on ${a.slot}` : ""}`);
      return;
    }
    if (d.phase === "rebooting" && rebooted) {
      const slot = a.slot !== undefined ? ` on ${a.slot}` : "";
      this.#end(d, false, now, out, "rollback", `rebooted into ${a.version ?? "?"}${slot}: the update was rolled back`);
    }
  }

  #end(d: DeviceRecord, ok: boolean, now: number, out: RolloutAction[], code: string | undefined, detail: string): void {
    d.phase = ok ? "succeeded" : "failed";
    d.endedAt = now;
    d.detail = detail;
    d.helloAt = undefined;
    if (ok) delete d.code;
    else {
      d.code = code;
      this.#failures++;
    }
    out.push(ok ? { type: "result", id: d.id, ok, detail } : { type: "result", id: d.id, ok, code, detail });
  }

  #advance(now: number, out: RolloutAction[]): void {
    if (this.#state !== "running" && this.#state !== "halting") return;
    if (this.#state === "running" && this.#failures > this.maxFailures) this.#state = "halting";
    if (this.#devices.some((d) => IN_FLIGHT.has(d.phase))) return; // the stage runs on
    const waiting = this.#devices.filter((d) => d.phase === "waiting");
    // a halt holds devices back; with none left the rollout simply finished (with its failures)
    if (this.#state === "halting" && waiting.length > 0) {
      this.#state = "halted";
      out.push({ type: "halt", failures: this.#failures, maxFailures: this.maxFailures });
      return;
    }
    if (waiting.length === 0) {
      this.#state = "finished";
      out.push({ type: "finished" });
      return;
    }
    const first = this.#stage + 1 === this.#firstStage;
    // the canary is a share of every target; a wave likewise (at least one device)
    let size = first ? resolveAmount(this.#canary, this.#devices.length) : 0;
    if (size === 0) size = Math.max(1, resolveAmount(this.#wave, this.#devices.length));
    const stage = ++this.#stage;
    const ids = waiting.slice(0, size).map((d) => d.id);
    out.push({ type: "stage", stage, ids });
    for (const id of ids) {
      const d = this.#byId.get(id)!;
      d.phase = "sent";
      d.stage = stage;
      d.sentAt = now;
      d.detail = "sent";
      delete d.code;
      delete d.endedAt;
      out.push({ type: "send", id });
    }
  }
}

/** One line per device for the end of a rollout: id, stage, result, before → after, why. */
export function resultTable(devices: readonly Readonly<DeviceRecord>[]): string[] {
  const rows = devices.map((d) => [
    d.id,
    d.stage < 0 ? "-" : d.stage === 0 ? "canary" : `wave ${d.stage}`,
    d.phase === "succeeded" ? "ok" : d.phase === "failed" ? `FAILED ${d.code ?? ""}`.trim() : d.phase === "waiting" ? "not sent" : d.phase,
    `${fmt(d.from)} -> ${fmt(d.last)}`,
    d.sentAt !== undefined && d.endedAt !== undefined ? `${((d.endedAt - d.sentAt) / 1000).toFixed(1)} s` : "",
    d.phase === "failed" ? d.detail : "",
  ]);
  const head = ["device", "stage", "result", "version/slot", "time", "detail"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(head), ...rows.map(line)];
}

function fmt(a: Announce | undefined): string {
  if (a === undefined) return "?";
  return `${a.version ?? "?"}${a.slot !== undefined ? `@${a.slot}` : ""}`;
}
