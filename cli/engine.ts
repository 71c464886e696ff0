/**
 * Runs one CLI network task (cli/tasks/*.ts) in the engine the user chose
 * (DESIGN.md §7):
 *   node  the task runs in this process, TaskIO = process stdin/stdout/stderr;
 *   xs    the task runs inside the XS engine from dist/sim/tools.js, with
 *         TaskIO bridged: out/err go through the host module "mote:task-io",
 *         stdin chunks come back as events.
 * Resolves with the exit status. A failure (thrown or rejected) prints ONE
 * line naming the error code on stderr and gives status 1.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot, startXs, type XsEngine } from "../host-shim/xs/engine.js";
import { loadTask } from "./registry.js";
import type { TaskArgs, TaskIO } from "./tasks/types.js";

export type EngineName = "node" | "xs";

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

/** One line for stderr naming the error's code: "mote: refused: connect ECONNREFUSED 127.0.0.1:9". */
export function errorLine(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown };
  const message = typeof err?.message === "string" ? err.message : String(e);
  const code = typeof err?.code === "string" ? err.code : "error";
  const text = message.startsWith(`${code}:`) || message === code ? message : `${code}: ${message}`;
  return `mote: ${text.split("\n")[0]}`;
}

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
