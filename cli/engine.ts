/**
 * Runs one CLI network task (cli/tasks/*.ts) in the engine the user chose
 * (DESIGN.md §7):
 *   node  the task runs in this process, TaskIO = process stdin/stdout/stderr;
 *   xs    the task runs inside the XS engine from dist/sim/tools.js, with
 *         TaskIO bridged: out/err go through the host module "mote:task-io",
 *         stdin chunks come back as events;
 *   moddable  the task runs on Moddable's own runtime: the CLI tasks built by
 *         the real mcconfig -p lin (manifest_tools.json, host-shim/moddable/),
 *         run headless by mchost; output comes back as framed trace lines
 *         (cli/moddable/main.ts). Standard input, when it is not a terminal,
 *         is read to its end before the task starts.
 * Resolves with the exit status. A failure (thrown or rejected) prints ONE
 * line naming the error code on stderr and gives status 1.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildModdable, sharedLibrary } from "../host-shim/moddable/build.js";
import { runModdable } from "../host-shim/moddable/run.js";
import { findModdable } from "../host-shim/moddable/sdk.js";
import { projectRoot, startXs, type XsEngine } from "../host-shim/xs/engine.js";
import { loadTask } from "./registry.js";
import { errorLine, type TaskArgs, type TaskIO } from "./tasks/types.js";

export type EngineName = "node" | "xs" | "moddable";

export interface Stdio {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface RunTaskOptions {
  engine: EngineName;
  /** Defaults to the process's streams. */
  stdio?: Stdio;
  /** Bundle for --engine xs. Default dist/sim/tools.js. */
  toolsBundle?: string;
}

/** One line for stderr: "mote: <code>: <what happened, in words>" (cli/tasks/types.ts). */
export { errorLine };

function processStdio(): Stdio {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
}

/** Subscribes a TaskIO input listener to a stream; returns how to stop. */
function pipeInput(stdin: NodeJS.ReadableStream, listener: (data: Uint8Array | null) => void): () => void {
  const onData = (chunk: Buffer | string) => listener(typeof chunk === "string" ? new TextEncoder().encode(chunk) : new Uint8Array(chunk));
  const onEnd = () => listener(null);
  stdin.on("data", onData);
  stdin.once("end", onEnd);
  stdin.resume();
  return () => {
    stdin.off("data", onData);
    stdin.off("end", onEnd);
    stdin.pause();
    (stdin as { unref?: () => void }).unref?.();
  };
}

export async function runTask(name: string, args: TaskArgs, options: RunTaskOptions): Promise<number> {
  const stdio = options.stdio ?? processStdio();
  try {
    if (options.engine === "moddable") return await runInModdable(name, args, stdio);
    return options.engine === "xs" ? await runInXs(name, args, stdio, options.toolsBundle) : await runInNode(name, args, stdio);
  } catch (e) {
    stdio.stderr.write(errorLine(e) + "\n");
    return 1;
  }
}

async function runInNode(name: string, args: TaskArgs, stdio: Stdio): Promise<number> {
  const task = await loadTask(name);
  if (task === undefined) throw Object.assign(new Error(`no task ${name} (cli/tasks/*.ts)`), { code: "unavailable" });
  const stops: (() => void)[] = [];
  try {
    return await new Promise<number>((resolve, reject) => {
      let done = false;
      const io: TaskIO = {
        out: (data) => void stdio.stdout.write(data),
        err: (line) => void stdio.stderr.write(line.endsWith("\n") ? line : line + "\n"),
        onInput: (listener) => stops.push(pipeInput(stdio.stdin, listener)),
        exit: (code) => {
          if (done) return;
          done = true;
          resolve(code);
        },
      };
      try {
        task(args, io);
      } catch (e) {
        reject(e);
      }
    });
  } finally {
    for (const stop of stops) stop();
  }
}

async function runInXs(name: string, args: TaskArgs, stdio: Stdio, toolsBundle?: string): Promise<number> {
  const bundlePath = toolsBundle ?? join(projectRoot(), "dist", "sim", "tools.js");
  if (!existsSync(bundlePath)) {
    throw Object.assign(new Error(`${bundlePath} is missing: run npm run build`), { code: "not-built" });
  }
  const stops: (() => void)[] = [];
  const taskIO = {
    default: {
      out: (data: Uint8Array) => void stdio.stdout.write(data),
      err: (line: string) => void stdio.stderr.write(line.endsWith("\n") ? line : line + "\n"),
      onInput: (listener: (data: Uint8Array | null) => void) => void stops.push(pipeInput(stdio.stdin, listener)),
    },
  };
  let xs: XsEngine | undefined;
  try {
    xs = await startXs({
      bundle: readFileSync(bundlePath, "utf8"),
      name: `mote-${name}`,
      stdio: "stderr",
      hostModules: { "mote:task-io": taskIO },
      onLog: process.env.MOTE_LOG ? (line) => void stdio.stderr.write(`[xs] ${line}\n`) : undefined,
    });
    const code = await xs.call("__moteRunTask", { name, args });
    return typeof code === "number" ? code : 1;
  } finally {
    for (const stop of stops) stop();
    await xs?.close();
  }
}

/** Tasks that read standard input (TaskIO.onInput). */
const READS_INPUT = new Set(["tcpConnect"]);

async function readAll(stream: NodeJS.ReadableStream): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return new Uint8Array(Buffer.concat(chunks));
}

async function runInModdable(name: string, args: TaskArgs, stdio: Stdio): Promise<number> {
  const sdk = findModdable();
  if (typeof sdk === "string") throw Object.assign(new Error(sdk), { code: "unavailable" });
  // Built on first use, and again when dist/ is newer than the build (mcconfig's make is incremental).
  const built = sharedLibrary("tools");
  const source = join(projectRoot(), "dist", "moddable-tools", "mote-tools.js");
  const fresh = existsSync(built) && existsSync(source) && statSync(built).mtimeMs >= statSync(source).mtimeMs;
  const so = fresh ? built : await buildModdable("tools", sdk);
  const wantsInput = (READS_INPUT.has(name) || args.stdin === true) && !(stdio.stdin as { isTTY?: boolean }).isTTY;
  const input = wantsInput ? await readAll(stdio.stdin) : undefined;
  const encoded: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) encoded[k] = v instanceof Uint8Array ? { $hex: Buffer.from(v).toString("hex") } : v;
  const dir = mkdtempSync(join(tmpdir(), "mote-moddable-task-"));
  try {
    writeFileSync(join(dir, "mote-task.json"), JSON.stringify({ task: name, args: encoded, input: input && Buffer.from(input).toString("hex") }));
    const run = runModdable(so, sdk, {
      cwd: dir,
      onLine(line) {
        if (line.startsWith("mote-out ")) stdio.stdout.write(Buffer.from(line.slice(9), "hex"));
        else if (line.startsWith("mote-err ")) stdio.stderr.write(line.slice(9) + "\n");
        else if (process.env.MOTE_LOG || line.startsWith("XS abort")) stdio.stderr.write(`[moddable] ${line}\n`);
      },
    });
    const stop = () => void run.kill();
    process.once("SIGINT", stop);
    try {
      return await run.exited;
    } finally {
      process.off("SIGINT", stop);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
