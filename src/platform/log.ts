/**
 * Logging through the host's trace: Moddable's global `trace()` on the device
 * (goes to xsbug / the serial console), `print` inside xsnap, nothing where
 * neither exists. One line per call: "<level> <message>".
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

type Sink = (text: string) => void;

function sink(): Sink | undefined {
  const g = globalThis as unknown as { trace?: unknown; print?: unknown };
  if (typeof g.trace === "function") return (text) => (g.trace as Sink)(text + "\n");
  if (typeof g.print === "function") return g.print as Sink;
  return undefined;
}

export function log(level: LogLevel, message: string): void {
  const write = sink();
  if (write !== undefined) write(`${level} ${message}`);
}
