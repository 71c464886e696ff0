/**
 * A small driver for the xsnap-worker binary that @agoric/xsnap builds (the
 * Moddable XS engine as a process), speaking its netstring protocol directly.
 *
 * Why not @agoric/xsnap's own `xsnap()`: its host side needs SES lockdown of
 * the whole Node process (`@endo/init`), which would freeze the intrinsics
 * under every test and Node twin sharing the process. The protocol is small:
 *
 *   to worker (fd 3):   "e" + source      evaluate a script
 *                       "?" + bytes       call globalThis.handleCommand(ArrayBuffer)
 *                       "/" + bytes       answer to the worker's own query
 *   from worker (fd 4): "." + meters "\x01" + reply     done (meters are JSON)
 *                       "!" + text        uncaught exception
 *                       "?" + bytes       worker's issueCommand(): answer with "/"
 * Each message is a netstring: "<length>:<bytes>,".
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { MoteError } from "../../src/errors.js";

export interface XsnapMeters {
  currentHeapCount: number;
  compute: number;
  allocate: number;
}

export interface XsnapResult {
  reply: Uint8Array;
  meters: XsnapMeters;
}

export interface XsnapWorker {
  evaluate(source: string): Promise<XsnapResult>;
  issueCommand(message: Uint8Array): Promise<XsnapResult>;
  /** Ends the worker (SIGTERM, then SIGKILL after a grace period). */
  close(): Promise<void>;
  readonly exited: boolean;
}

/** Path of the xsnap-worker binary built by @agoric/xsnap's install script. */
export function xsnapBinary(): string {
  const platform = process.platform === "darwin" ? "mac" : "lin";
  const req = createRequire(import.meta.url);
  const pkg = dirname(req.resolve("@agoric/xsnap/package.json"));
  const bin = join(pkg, "xsnap-native", "xsnap", "build", "bin", platform, "release", "xsnap-worker");
  if (!existsSync(bin)) throw new Error(`xsnap-worker not built at ${bin} (run npm rebuild @agoric/xsnap)`);
  return bin;
}

const COLON = 0x3a;
const COMMA = 0x2c;

/** Incremental netstring reader with a bound on one message; copies each byte about once. */
export class NetstringReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Total bytes (prefix + body + comma) of the message being read, once known. */
  #need = 0;
  constructor(private readonly maxMessage: number) {}

  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.#need === 0) {
        const head = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks, this.#buffered);
        this.#chunks = [head];
        const colon = head.indexOf(COLON);
        if (colon < 0) {
          if (head.length > 10) throw new MoteError("bad-netstring", "no length prefix");
          break;
        }
        const length = Number(head.subarray(0, colon).toString("latin1"));
        if (!Number.isInteger(length) || length < 0 || length > this.maxMessage) throw new MoteError("bad-netstring", "length prefix is not a number within the bound");
        this.#need = colon + 1 + length + 1;
      }
      if (this.#buffered < this.#need) break;
      const all = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks, this.#buffered);
      const colon = all.indexOf(COLON);
      const end = this.#need - 1;
      if (all[end] !== COMMA) throw new MoteError("bad-netstring", "no comma after the payload");
      out.push(all.subarray(colon + 1, end));
      const rest = all.subarray(end + 1);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#buffered = rest.length;
      this.#need = 0;
      if (rest.length === 0) break;
    }
    return out;
  }
}

/** One netstring in one buffer (one write, one syscall). */
function netstring(prefix: string, body: Uint8Array | string): Buffer[] {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const head = `${prefix.length + bytes.length}:${prefix}`;
  const out = Buffer.allocUnsafe(head.length + bytes.length + 1);
  out.write(head, 0, "latin1");
  bytes.copy(out, head.length);
  out[out.length - 1] = COMMA;
  return [out];
}

export interface StartXsnapOptions {
  name?: string;
  /** Serves the worker's issueCommand(); may be async. */
  handleCommand(request: Uint8Array): Promise<Uint8Array> | Uint8Array;
  /** Where the worker's stdout/stderr (print) goes: inherit, ignore, or both to our stderr. Default: inherit. */
  stdio?: "inherit" | "ignore" | "stderr";
  /** Bound on one message from the worker. Default 256 MB. */
  maxMessageBytes?: number;
  /** XS compute meter limit per command (xsnap -l); past it the worker exits. Default: none. */
  computeLimit?: number;
  /** The worker binary (e.g. the fleet build, xsnap-lite.ts). Default: @agoric/xsnap's. */
  binary?: string;
}

export function startXsnap(options: StartXsnapOptions): XsnapWorker {
  const bin = options.binary ?? xsnapBinary();
  const out = options.stdio === "stderr" ? 2 : (options.stdio ?? "inherit");
  const argv = [options.name ?? "mote"];
  if (options.computeLimit !== undefined && options.computeLimit > 0) argv.push("-l", String(Math.floor(options.computeLimit)));
  // Its own process group: a Ctrl-C at the terminal reaches Node, which closes
  // the engine in order, rather than killing XS under it. If Node dies, the
  // worker sees EOF on its command pipe and exits by itself.
  const child: ChildProcess = spawn(bin, argv, {
    stdio: ["ignore", out, out, "pipe", "pipe"],
    detached: true,
  });
  const toWorker = child.stdio[3] as Writable;
  const fromWorker = child.stdio[4] as Readable;
  const reader = new NetstringReader(options.maxMessageBytes ?? 256 * 1024 * 1024);
  let exited = false;
  let exitError: Error | undefined;
  /** The command in flight (xsnap runs one at a time) and the ones waiting. */
  type Pending = { message: Buffer[]; resolve(r: XsnapResult): void; reject(e: Error): void };
  const waiting: Pending[] = [];
  let current: Pending | undefined;

  const fail = (e: Error) => {
    exitError ??= e;
    const all = current ? [current, ...waiting] : [...waiting];
    current = undefined;
    waiting.length = 0;
    for (const p of all) p.reject(exitError);
  };

  child.on("exit", (code, signal) => {
    exited = true;
    fail(new Error(`xsnap worker exited (${signal ?? code})`));
  });
  child.on("error", (e) => fail(e));
  toWorker.on("error", (e) => fail(e));
  fromWorker.on("error", (e) => fail(e)); // e.g. ECONNRESET when the worker is killed

  const next = () => {
    if (current !== undefined || exited) return;
    current = waiting.shift();
    if (current === undefined) return;
    for (const part of current.message) toWorker.write(part);
  };

  // Queries from the worker are answered in order, one at a time.
  let queries: Promise<void> = Promise.resolve();
  fromWorker.on("data", (chunk: Buffer) => {
    let messages: Buffer[];
    try {
      messages = reader.push(chunk);
    } catch (e) {
      child.kill("SIGKILL");
      fail(e as Error);
      return;
    }
    for (const m of messages) {
      const kind = m[0];
      if (kind === 0x3f /* ? */) {
        const body = new Uint8Array(m.buffer, m.byteOffset + 1, m.length - 1).slice();
        queries = queries.then(async () => {
          let answer: Uint8Array;
          try {
            answer = await options.handleCommand(body);
          } catch (e) {
            answer = new Uint8Array(0);
            process.emitWarning(`xsnap handleCommand threw: ${(e as Error).message}`);
          }
          if (!exited) for (const part of netstring("/", answer)) toWorker.write(part);
        });
      } else if (kind === 0x2e /* . */) {
        const sep = m.indexOf(1, 1);
        let meters: XsnapMeters = { currentHeapCount: 0, compute: 0, allocate: 0 };
        if (sep > 0) meters = JSON.parse(m.subarray(1, sep).toString("utf8")) as XsnapMeters;
        const reply = new Uint8Array(m.subarray(sep > 0 ? sep + 1 : 1));
        const p = current;
        current = undefined;
        p?.resolve({ reply, meters });
        next();
      } else if (kind === 0x21 /* ! */) {
        const p = current;
        current = undefined;
        p?.reject(new Error(`uncaught exception in XS: ${m.subarray(1).toString("utf8")}`));
        next();
      } else {
        child.kill("SIGKILL");
        fail(new Error(`xsnap: unknown message ${String.fromCharCode(kind ?? 0)}`));
      }
    }
  });

  const enqueue = (message: Buffer[]) =>
    new Promise<XsnapResult>((resolve, reject) => {
      if (exited || exitError) {
        reject(exitError ?? new Error("xsnap worker exited"));
        return;
      }
      waiting.push({ message, resolve, reject });
      next();
    });

  return {
    evaluate: (source) => enqueue(netstring("e", source)),
    issueCommand: (message) => enqueue(netstring("?", message)),
    get exited() {
      return exited;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        exitError ??= new Error("xsnap worker closed");
        child.once("exit", () => resolve());
        // XS keeps nothing that needs flushing: end it now (an EOF on its
        // command pipe would make it print "Has parent died?").
        child.kill("SIGTERM");
        const kill = setTimeout(() => child.kill("SIGKILL"), 2000);
        kill.unref();
      }),
  };
}
