/**
 * XS side of `mote ... --engine xs`: dist/sim/tools.js registers every CLI
 * task (cli/tasks/*.ts) as a global and this runner, which calls one with a
 * TaskIO whose out/err/onInput go to the Node side's "mote:task-io" module
 * (cli/engine.ts) and whose exit() settles the call.
 */
import TaskIOHost from "mote:task-io";
import type { Task, TaskArgs, TaskIO } from "../../cli/tasks/types.js";

interface TaskIOHostShape {
  out(data: Uint8Array): void;
  err(line: string): void;
  onInput(listener: (data: Uint8Array | null) => void): void;
}

const host = TaskIOHost as unknown as TaskIOHostShape;
const g = globalThis as unknown as Record<string, unknown>;

g.__moteRunTask = (request: { name: string; args: TaskArgs }): Promise<number> =>
  new Promise<number>((resolve, reject) => {
    const task = g[request.name];
    if (typeof task !== "function") {
      reject(Object.assign(new Error(`no task ${request.name} in dist/sim/tools.js: run npm run build`), { code: "unavailable" }));
      return;
    }
    let done = false;
    const io: TaskIO = {
      out: (data) => host.out(data),
      err: (line) => host.err(line),
      onInput: (listener) => host.onInput(listener),
      exit: (code) => {
        if (done) return;
        done = true;
        resolve(code);
      },
    };
    try {
      (task as Task)(request.args, io);
    } catch (e) {
      reject(e);
    }
  });
