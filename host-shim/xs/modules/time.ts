// XS stub for the host module "time": served locally from XS's monotonic
// performance.now(), no round trip (Moddable: Time.ticks, Time.microseconds, Time.delta).
declare const performance: { now(): number };

export default class Time {
  /** Monotonic milliseconds. */
  static get ticks(): number {
    return Math.floor(performance.now());
  }
  static get microseconds(): number {
    return Math.floor(performance.now() * 1000);
  }
  /** Milliseconds from start to end (default: now), as Moddable's Time.delta. */
  static delta(start: number, end?: number): number {
    return (end ?? Time.ticks) - start;
  }
}
