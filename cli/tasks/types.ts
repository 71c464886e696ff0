/**
 * Contract for the CLI's network tasks (`mote tcp|udp|mqtt|coap ...`).
 *
 * A task is written once against src/ and this small I/O interface, and runs
 * unchanged in two engines (DESIGN.md §7):
 *   --engine node  task called in Node, io = process stdin/stdout/stderr;
 *   --engine xs    task bundled into dist/sim/tools.js and called inside the
 *                  XS engine, io bridged through the simulator's command channel.
 * So tasks import nothing from node:*, use no Buffer/process/console/setTimeout
 * (src/platform for timers), and get file contents as bytes in `args` — the
 * Node side reads `-f FILE` before the task starts and writes `-o FILE` from
 * what the task passes to `io.out`.
 */
export interface TaskIO {
  /** Bytes for stdout. */
  out(data: Uint8Array): void;
  /** One line for stderr (no trailing newline needed). */
  err(line: string): void;
  /** Subscribe to stdin: chunks, then `null` at end of input. */
  onInput(listener: (data: Uint8Array | null) => void): void;
  /** Finish the task with an exit status (0 = success). Call exactly once. */
  exit(code: number): void;
}

/** Arguments are plain JSON-able values plus Uint8Array (file contents). */
export type TaskArgs = Record<string, string | number | boolean | Uint8Array | string[] | undefined>;

export type Task = (args: TaskArgs, io: TaskIO) => void;
