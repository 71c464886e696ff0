/**
 * One `mote sim --json` child process, for the tests that run simulators as a
 * user would (test/cluster): it keeps the last status line's device list and
 * the tail of stderr, waits for a condition with a bound, and stops the
 * process (SIGTERM, then SIGKILL after 20 s).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

const root = join(__dirname, "..", "..");

export class SimProcess<Device = Record<string, unknown>> {
  readonly child: ChildProcess;
  /** The devices of the last JSON status line (undefined before the first). */
  devices: Device[] | undefined;
  stderr = "";

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [join(root, "bin", "mote.mjs"), "sim", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let buf = "";
    this.child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      if (buf.length > 1_000_000) buf = buf.slice(-100_000); // a line that never ends must not grow without bound
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const j = JSON.parse(line) as { devices?: Device[] };
          if (j.devices !== undefined && j.devices.length > 0) this.devices = j.devices;
        } catch {
          // not a status line
        }
      }
    });
    this.child.stderr!.on("data", (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** The devices once `pred` holds for them; throws when the process exits or `ms` passes. */
  async until(pred: (d: Device[]) => boolean, what: string, ms: number): Promise<Device[]> {
    const deadline = Date.now() + ms;
    for (let i = 0; i < 100_000; i++) {
      if (this.devices !== undefined && pred(this.devices)) return this.devices;
      if (this.exited) throw new Error(`mote sim exited (${this.child.exitCode}) before ${what}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`mote sim: not ${what} within ${ms} ms; last ${JSON.stringify(this.devices)}; ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`mote sim: not ${what} after 100000 polls`);
  }

  async stop(): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const gone = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 20_000);
    await gone;
    clearTimeout(t);
  }
}
