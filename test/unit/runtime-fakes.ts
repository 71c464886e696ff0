/**
 * A fake Host for runtime/app unit tests: a clock that only moves when the test
 * says so, alarms that fire in deadline order as it moves, and a log kept in memory.
 */
import type { AlarmLike, Host, LogLevel } from "../../src/runtime/host.js";
import { seededRandom } from "../../src/runtime/backoff.js";

export class FakeHost implements Host {
  time = 0;
  readonly logs: string[] = [];
  readonly random: () => number;
  readonly #alarms = new Set<{ deadline: number | undefined; fire: () => void }>();

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  now = (): number => this.time;

  log = (level: LogLevel, message: string): void => {
    this.logs.push(`${level} ${message}`);
  };

  alarm = (onAlarm: () => void): AlarmLike => {
    const a = { deadline: undefined as number | undefined, fire: onAlarm };
    this.#alarms.add(a);
    return {
      arm: (deadline) => {
        a.deadline = deadline;
      },
      close: () => {
        a.deadline = undefined;
        this.#alarms.delete(a);
      },
    };
  };

  /** Armed alarms. */
  get pending(): number {
    let n = 0;
    for (const a of this.#alarms) if (a.deadline !== undefined) n++;
    return n;
  }

  /** Moves the clock to `time + ms`, firing every alarm due on the way, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (let guard = 0; guard < 1_000_000; guard++) {
      let next: { deadline: number | undefined; fire: () => void } | undefined;
      for (const a of this.#alarms)
        if (a.deadline !== undefined && a.deadline <= end && (next === undefined || a.deadline < next.deadline!)) next = a;
      if (next === undefined) break;
      this.time = Math.max(this.time, next.deadline!);
      next.deadline = undefined; // one-shot until re-armed
      next.fire();
    }
    this.time = end;
  }
}
