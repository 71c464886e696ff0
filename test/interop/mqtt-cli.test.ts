/**
 * `mote mqtt pub|sub` end to end: the real CLI (node bin/mote.mjs, needs
 * `npm run build`) against a mosquitto started by the test.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawn } from "node:child_process";
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";

const skip = mosquittoSkipReason();
let broker: Mosquitto;

beforeAll(async () => {
  if (!skip) broker = await startMosquitto();
}, 20_000);
afterAll(async () => {
  await broker?.close();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function mote(args: string[], timeoutMs = 15_000): { done: Promise<Run>; kill(): void } {
  const child = spawn(process.execPath, ["bin/mote.mjs", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<Run>((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { done, kill: () => child.kill("SIGKILL") };
}

describe.skipIf(skip)("mote mqtt pub|sub with mosquitto", () => {
  test("pub at QoS 1 (v5) and QoS 2 (3.1.1, -L url) with -r; sub -C 2 -v prints topic and payload", async () => {
    const p = String(broker.port);
    // retained, so the subscriber started afterwards gets them without any timing assumption
    const a = await mote(["mqtt", "pub", "-h", "127.0.0.1", "-p", p, "-t", "cli/a", "-m", "hello", "-q", "1", "-r"]).done;
    const b = await mote(["mqtt", "pub", "-L", `mqtt://127.0.0.1:${p}/cli/b`, "-m", "world", "-q", "2", "-V", "311", "-r"]).done;
    expect([a.code, a.stderr, b.code, b.stderr]).toEqual([0, "", 0, ""]);
    const s = await mote(["mqtt", "sub", "-h", "127.0.0.1", "-p", p, "-t", "cli/a", "-t", "cli/b", "-q", "2", "-C", "2", "-v"]).done;
    expect(s.code).toBe(0);
    expect(s.stdout.split("\n").sort()).toEqual(["", "cli/a hello", "cli/b world"]);
  }, 30_000);

  test("--engine xs runs the same pub task inside the XS engine", async () => {
    const p = String(broker.port);
    const a = await mote(["mqtt", "pub", "-h", "127.0.0.1", "-p", p, "-t", "cli/xs", "-m", "from-xs", "-q", "1", "-r", "--engine", "xs"], 30_000).done;
    expect([a.code, a.stderr]).toEqual([0, ""]);
    const s = await mote(["mqtt", "sub", "-h", "127.0.0.1", "-p", p, "-t", "cli/xs", "-C", "1"]).done;
    expect([s.code, s.stdout]).toEqual([0, "from-xs\n"]);
  }, 45_000);

  test("a retained message with -r reaches a later sub; the will flags are accepted", async () => {
    const p = String(broker.port);
    const a = await mote(["mqtt", "pub", "-h", "127.0.0.1", "-p", p, "-t", "cli/ret", "-m", "kept", "-r", "--will-topic", "cli/will", "--will-payload", "x"]).done;
    expect(a.code).toBe(0);
    const s = await mote(["mqtt", "sub", "-h", "127.0.0.1", "-p", p, "-t", "cli/ret", "-C", "1"]).done;
    expect([s.code, s.stdout]).toEqual([0, "kept\n"]);
  }, 30_000);

  test("a refused connection is one line naming the error code and exit status 1", async () => {
    const r = await mote(["mqtt", "pub", "-h", "127.0.0.1", "-p", "1", "-t", "x", "-m", "y"]).done;
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^mote: refused/);
  }, 30_000);

  test("bad usage exits 2", async () => {
    const r = await mote(["mqtt", "pub", "-t", "x"]).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/usage/);
  });
});
