/**
 * The CLI's network tasks (cli/tasks/*.ts) on Moddable's own desktop runtime
 * (manifest_tools.json, `mcconfig -m -t build -p lin`): the same functions that
 * run on Node and in the simulator's XS, here on the real Moddable XS build.
 *
 * `run()` — called by the generated entry module, never at evaluation, so the
 * bundle can be preloaded — reads "mote-task.json" under config.file.root:
 *   {"task": "mqttSub", "args": {...}, "input"?: "<hex>"}
 * where an args value {"$hex": "…"} stands for bytes (a file's contents). The
 * task's output goes to trace() as framed lines the Node side decodes
 * (host-shim/moddable/run.ts): "mote-out <hex>" and "mote-err <text>"; the
 * process ends with the task's exit status (mote/process).
 */
import { File } from "file";
import config from "mc/config";
import { exit } from "mote/process";
import { errorLine, type Task, type TaskArgs, type TaskIO } from "../tasks/types.js";
import * as coap from "../tasks/coap.js";
import * as mqtt from "../tasks/mqtt.js";
import * as tcp from "../tasks/tcp.js";
import * as udp from "../tasks/udp.js";

type Trace = (text: string) => void;
const out: Trace = (text) => (globalThis as unknown as { trace: Trace }).trace(text);

/** At most this many output bytes per framed line (the host's post buffer is bounded). */
const LINE_BYTES = 512;

function hex(bytes: Uint8Array, from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  return s;
}

function unhex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(text)) throw new Error("bad hex in mote-task.json");
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function tasks(): Record<string, Task> {
  const all: Record<string, unknown> = { ...coap, ...mqtt, ...tcp, ...udp };
  const found: Record<string, Task> = {};
  for (const [name, value] of Object.entries(all)) if (typeof value === "function") found[name] = value as Task;
  return found;
}

function readRequest(): { task: string; args: TaskArgs; input?: Uint8Array } {
  const f = new File(config.file.root + "mote-task.json");
  const raw = JSON.parse(f.read(String)) as { task?: unknown; args?: Record<string, unknown>; input?: unknown };
  f.close();
  if (typeof raw.task !== "string") throw new Error("mote-task.json: no task");
  const args: TaskArgs = {};
  for (const [k, v] of Object.entries(raw.args ?? {})) {
    const bytes = v !== null && typeof v === "object" && typeof (v as { $hex?: unknown }).$hex === "string";
    args[k] = bytes ? unhex((v as { $hex: string }).$hex) : (v as TaskArgs[string]);
  }
  return { task: raw.task, args, input: typeof raw.input === "string" ? unhex(raw.input) : undefined };
}

export function run(): void {
  let request: ReturnType<typeof readRequest>;
  try {
    request = readRequest();
  } catch (e) {
    out(`mote-err ${errorLine(e)}\n`);
    exit(2);
  }
  const task = tasks()[request.task];
  if (task === undefined) {
    out(`mote-err mote: unavailable: no task ${request.task} in this build\n`);
    exit(2);
  }
  let done = false;
  const io: TaskIO = {
    out(data) {
      for (let at = 0; at < data.length; at += LINE_BYTES) out(`mote-out ${hex(data, at, Math.min(data.length, at + LINE_BYTES))}\n`);
    },
    err(line) {
      out(`mote-err ${line.replace(/\n$/, "")}\n`);
    },
    onInput(listener) {
      // The whole of stdin was read by the Node side before the task started.
      if (request.input !== undefined && request.input.length > 0) listener(request.input);
      listener(null);
    },
    exit(code) {
      if (done) return;
      done = true;
      out(`mote-exit ${code}\n`);
      exit(code);
    },
  };
  try {
    task(request.args, io);
  } catch (e) {
    out(`mote-err ${errorLine(e)}\n`);
    exit(1);
  }
}
