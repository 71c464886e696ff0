/**
 * What the runtime needs from its surroundings: a clock, one re-armable wake-up,
 * a log and randomness. On the device and in the simulator this is the platform
 * (platform-host.ts); in unit tests it is a fake clock (test/unit/runtime-fakes.ts).
 * Keeping it an interface lets the runtime and the app logic run without host
 * modules, which is what makes them testable broker-free in Node.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface AlarmLike {
  /** Wake at `deadline` (monotonic ms, as `now()`); undefined disarms. Re-arming replaces. */
  arm(deadline: number | undefined): void;
  close(): void;
}

export interface Host {
  now(): number;
  alarm(onAlarm: () => void): AlarmLike;
  log(level: LogLevel, message: string): void;
  /** Uniform in [0, 1). */
  random(): number;
}

/** A `tag: message` logger over `host.log`. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLogger(host: Host, tag: string): Logger {
  return {
    debug: (m) => host.log("debug", `${tag}: ${m}`),
    info: (m) => host.log("info", `${tag}: ${m}`),
    warn: (m) => host.log("warn", `${tag}: ${m}`),
    error: (m) => host.log("error", `${tag}: ${m}`),
  };
}

/** A short text for anything thrown (errors keep their `code`). */
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" && !e.message.startsWith(code) ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}
