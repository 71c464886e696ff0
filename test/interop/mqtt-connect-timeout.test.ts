/**
 * A TCP connect that neither completes nor fails must not leave the client
 * waiting for ever: the transport phase has its own deadline (connectTimeoutMs),
 * after which the attempt is given up and the reconnect backoff goes on.
 * The peer: a Python listener that never accepts, its backlog filled first, so
 * further SYNs go unanswered on loopback (the connect hangs; Linux retries SYNs
 * for minutes).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { connect as netConnect, type Socket } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { connect } from "../../src/mqtt/index.js";

const python = spawnSync("python3", ["--version"]).status === 0;
if (!python && process.env.CI) throw new Error("python3 is required for test/interop/mqtt-connect-timeout.test.ts (CI is set)");

let child: ChildProcess | undefined;
let port = 0;
const fillers: Socket[] = [];

beforeAll(async () => {
  if (!python) return;
  child = spawn("python3", ["-c", "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(120)"]);
  port = await new Promise<number>((resolve, reject) => {
    child!.stdout!.once("data", (d: Buffer) => resolve(Number(String(d).trim())));
    child!.once("error", reject);
  });
  // fill the accept queue: these complete the handshake and are never accepted
  for (let i = 0; i < 4; i++) fillers.push(netConnect({ host: "127.0.0.1", port }).on("error", () => {}));
  await new Promise((r) => setTimeout(r, 300));
});

afterAll(() => {
  for (const f of fillers) f.destroy();
  child?.kill("SIGKILL");
});

test.skipIf(!python)("a connect that hangs is given up at connectTimeoutMs and retried, not waited on for ever", async () => {
  const c = connect({ host: "127.0.0.1", port, clientId: "hang", connectTimeoutMs: 500, reconnect: { initialDelayMs: 50, maxDelayMs: 100 } });
  const errors: string[] = [];
  let reconnects = 0;
  c.on("error", (e) => errors.push(e.code));
  c.on("reconnect", () => reconnects++);
  const started = Date.now();
  while (reconnects < 2 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 50));
  await c.end({ force: true });
  expect(errors.filter((e) => e === "timeout").length).toBeGreaterThanOrEqual(2);
  expect(reconnects).toBeGreaterThanOrEqual(2);
}, 20_000);
