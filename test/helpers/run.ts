/**
 * Runs a command to completion without blocking the test worker's event loop.
 * A long `spawnSync` (a build, a link check) stalls vitest's worker RPC: a call
 * in flight times out ("Timeout calling onTaskUpdate") as soon as the worker
 * wakes, since its timer fires before the answer is read. Use this instead for
 * anything that may take more than a few seconds.
 */
import { spawn } from "node:child_process";

export interface RunResult {
  /** Exit status; null when killed (the timeout, or a signal). */
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr as they arrived, interleaved. */
  output: string;
}

export function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const both: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => (out.push(d), both.push(d)));
    child.stderr.on("data", (d: Buffer) => (err.push(d), both.push(d)));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    const done = (status: number | null, extra = "") => {
      clearTimeout(timer);
      const text = (parts: Buffer[]) => Buffer.concat(parts).toString("utf8");
      resolve({ status, stdout: text(out), stderr: text(err) + extra, output: text(both) + extra });
    };
    child.on("error", (e) => done(null, `\n${cmd}: ${e.message}`));
    child.on("close", (status) => done(status));
  });
}
