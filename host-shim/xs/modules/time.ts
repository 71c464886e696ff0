// XS stub for the host module "time": served locally from XS's monotonic
// performance.now(), no round trip (Moddable: Time.ticks, Time.microseconds, Time.delta, Time.set).
declare const performance: { now(): number };

export default class Time {
  /** Monotonic milliseconds. */
  static get ticks(): number {
    return Math.floor(performance.now());
  }
  static get microseconds(): number {
    return Math.floor(performance.now() * 1000);
  }
  /**
   * Sets the wall clock, seconds since 1970 (Moddable's Time.set). XS's Date is the
   * host's clock, already right, so as on Moddable's lin build (xs_time_set is empty)
   * it changes nothing; a value that is not a time throws like xsmcToUnsigned would not.
   */
  static set(seconds: number): void {
    if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) throw new TypeError("Time.set: seconds since 1970 expected");
  }
  /** Milliseconds from start to end (default: now), as Moddable's Time.delta. */
  static delta(start: number, end?: number): number {
    return (end ?? Time.ticks) - start;
  }
}
