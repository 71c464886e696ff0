/**
 * Binding of the `HealthCheck` core (boot.ts) after a boot: feeds it WiFi /
 * MQTT / self-test news from the app, wakes it at its deadline, and runs its
 * verdict — keep the image (mark valid) or give it up (roll back). Which
 * calls those are is passed in (src/ota/device.ts wires the platform).
 */
import { HealthCheck, type HealthAction, type HealthCheckOptions, type HealthEvent } from "./boot.js";

export interface BootGuardOptions extends HealthCheckOptions {
  readonly now: () => number;
  readonly alarm: (onAlarm: () => void) => { arm(deadline: number | undefined): void; close(): void };
  /** Health reached: commit the running image (and reset the mod crash counter). */
  readonly markValid: () => void;
  /** Health not reached in time, or the self-test failed. */
  readonly rollback: (reason: string) => void;
  readonly onEvent?: (event: HealthAction) => void;
}

export class BootGuard {
  readonly #o: BootGuardOptions;
  readonly #core: HealthCheck;
  readonly #alarm: { arm(deadline: number | undefined): void; close(): void };

  constructor(options: BootGuardOptions) {
    this.#o = options;
    this.#core = new HealthCheck(options);
    this.#alarm = options.alarm(() => this.#feed({ type: "timer" }));
    this.#feed({ type: "start" });
  }

  get state(): HealthCheck["state"] {
    return this.#core.state;
  }

  wifi(up: boolean): void {
    this.#feed({ type: "wifi", up });
  }

  mqtt(connected: boolean): void {
    this.#feed({ type: "mqtt", connected });
  }

  selfTest(ok: boolean, detail?: string): void {
    this.#feed(detail === undefined ? { type: "self-test", ok } : { type: "self-test", ok, detail });
  }

  close(): void {
    this.#alarm.close();
  }

  #feed(event: HealthEvent): void {
    for (const action of this.#core.handle(event, this.#o.now())) {
      this.#o.onEvent?.(action);
      if (action.type === "mark-valid") this.#o.markValid();
      else this.#o.rollback(action.detail === undefined ? action.reason : `${action.reason}: ${action.detail}`);
    }
    this.#alarm.arm(this.#core.nextDeadline());
  }
}
