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

/**
 * What a code means, in words, for errors whose own text says nothing more
 * (a bare code) or is a host's raw text ("connect ECONNREFUSED 127.0.0.1:9").
 */
const CODE_WORDS: Readonly<Record<string, string>> = Object.freeze({
  refused: "the connection was refused: nothing listens on that port",
  reset: "the peer reset the connection",
  closed: "the peer closed the connection",
  timeout: "no answer in time",
  unreachable: "the destination is unreachable",
  dns: "the host name could not be resolved",
  "address-in-use": "the address and port are already in use",
  "connect-timeout": "no CONNACK from the broker in time",
  "keepalive-timeout": "the broker stopped answering (no PINGRESP in time)",
  "end-timeout": "in-flight messages were not acknowledged in time",
  ended: "the client ended before the request completed",
  "bad-signature": "the signature does not verify with the given key",
  "hash-mismatch": "the image's SHA-256 differs from the descriptor's",
});

/** Operating system error names -> mote's codes. */
const ERRNO_CODES: Readonly<Record<string, string>> = Object.freeze({
  ECONNREFUSED: "refused",
  ECONNRESET: "reset",
  EPIPE: "reset",
  ETIMEDOUT: "timeout",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  EADDRINUSE: "address-in-use",
  EADDRNOTAVAIL: "address-not-available",
  EACCES: "not-allowed",
  EPERM: "not-allowed",
  ENOTFOUND: "dns",
  EAI_AGAIN: "dns",
  ENOENT: "no-such-file",
  EISDIR: "is-a-directory",
});

/**
 * The one line every CLI failure prints (DESIGN.md §7):
 *   mote: <code>: <what happened, in words>
 * `code` is the error's literal code ("error" when it has none); the words are
 * `words` when the caller knows better (what it was doing, with which peer),
 * else the error's message without its leading code, else what the code means.
 * One line: anything after a newline is dropped.
 */
export function errorLine(e: unknown, words?: string): string {
  const err = e as { code?: unknown; message?: unknown } | null | undefined;
  let raw = typeof err?.code === "string" && err.code !== "" ? err.code : "error";
  let message = typeof err?.message === "string" ? err.message : String(e);
  // No code property (a plain Error("bad-key: …"), or one that crossed the XS bridge):
  // a leading kebab-case word is its code.
  const lead = raw === "error" ? /^(?:Error: )?([a-z][a-z0-9]*(?:-[a-z0-9]+)*): (\S[^]*)$/.exec(message) : null;
  if (lead !== null) [raw, message] = [lead[1], lead[2]];
  // An operating system's error name (a Node error thrown as is) becomes mote's code.
  const code = ERRNO_CODES[raw] ?? raw;
  let text = words ?? message;
  while (text.startsWith(`${code}: `) || text.startsWith(`${raw}: `)) text = text.slice((text.startsWith(raw) ? raw : code).length + 2);
  // Node's file errors: "ENOENT: no such file or directory, open 'x'" -> "no such file or directory: x"
  const file = /^(?:E[A-Z]+: )?([^,]+), \w+ '(.*)'$/.exec(text);
  if (file !== null) text = `${file[1]}: ${file[2]}`;
  if (text === code) text = "";
  // A host's raw text names the operating system's error (ECONNREFUSED, EADDRINUSE, ...):
  // say what it means instead, keeping the address it names. (Regular expressions are
  // made here, not at module level: Moddable preloads this module, docs/moddable.md.)
  if (/\bE[A-Z]{4,}\b/.test(text)) {
    const where = /(\[?[0-9a-fA-F.:]+\]?:\d+)\s*$/.exec(text);
    text = (CODE_WORDS[code] ?? "the operating system refused the operation") + (where === null ? "" : ` (${where[1]})`);
  }
  if (text === "") text = CODE_WORDS[code] ?? "failed";
  return `mote: ${code}: ${text.split("\n")[0]}`;
}

/** "host:port", an IPv6 literal in brackets (RFC 3986 §3.2.2). */
export function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
