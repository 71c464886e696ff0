/**
 * The CLI against RabbitMQ (issue 19): RabbitMQ 3.10's MQTT plugin speaks
 * 3.1.1 only and has no QoS 2. `mote mqtt` must say what the broker refused
 * and end — never hang: `sub -q 2` reads the SUBACK (granted QoS 1: a
 * downgrade, or 0x80: refused), `pub -q 2` ends with what the broker did to
 * the QoS 2 PUBLISH, and `-V 5` says the broker closed the v5 CONNECT.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { freePort } from "../helpers/mosquitto.js";
import { rabbitmqSkipReason, startRabbitCluster, type RabbitCluster } from "../helpers/rabbitmq.js";

const skip = rabbitmqSkipReason();
const root = join(__dirname, "..", "..");

function mote(args: string[], timeoutMs = 90_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, "bin", "mote.mjs"), ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("close", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(skip !== undefined)("mote mqtt against RabbitMQ", () => {
  let cluster: RabbitCluster;
  let port: string;

  beforeAll(async () => {
    cluster = await startRabbitCluster({ nodes: 1 });
    port = String(cluster.nodes[0].mqttPort);
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  test("pub -q 2 ends at once with what the broker did: PUBACK for QoS 2, the message taken at QoS 1", async () => {
    const r = await mote(["mqtt", "pub", "-h", "127.0.0.1", "-p", port, "-t", "cli/q2", "-m", "x", "-q", "2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mote: qos-not-supported: the broker answered the QoS 2 PUBLISH with PUBACK: it took the message at QoS 1 and has no QoS 2: try -q 1\n$/);
  }, 120_000);

  test("sub -q 2 says the SUBACK granted QoS 1, and still receives", async () => {
    const child = spawn(process.execPath, [join(root, "bin", "mote.mjs"), "mqtt", "sub", "-h", "127.0.0.1", "-p", port, "-t", "cli/s2", "-q", "2", "-C", "1"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    const kill = setTimeout(() => child.kill("SIGKILL"), 90_000);
    for (let i = 0; i < 600 && !stderr.includes("granted") && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    expect(stderr).toBe('mote: qos-downgraded: the broker granted QoS 1 for "cli/s2", not 2\n');
    const pub = await mote(["mqtt", "pub", "-h", "127.0.0.1", "-p", port, "-t", "cli/s2", "-m", "hello", "-q", "1"]);
    expect(pub).toMatchObject({ code: 0, stderr: "" });
    const code = await exited;
    clearTimeout(kill);
    expect({ code, stdout }).toEqual({ code: 0, stdout: "hello\n" });
  }, 120_000);

  test("-V 5: the broker closes the v5 CONNECT, and the CLI says so and why it may be", async () => {
    const r = await mote(["mqtt", "pub", "-h", "127.0.0.1", "-p", port, "-t", "cli/v5", "-m", "x", "-V", "5"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("mote: closed: the broker closed the connection before CONNACK: it may not speak MQTT 5 (try -V 311)\n");
  }, 120_000);

  test("a broker list: -h with a dead first host publishes on the next one; -L sub fails over too", async () => {
    const dead = String(await freePort());
    // the node listens on 127.0.0.1 only: ::1 refuses, and the run goes on to 127.0.0.1
    const pub = await mote(["mqtt", "pub", "-h", "::1,127.0.0.1", "-p", port, "-t", "cli/list", "-m", "x", "-q", "1"]);
    expect(pub).toMatchObject({ code: 0, stderr: "" });
    const child = spawn(
      process.execPath,
      [join(root, "bin", "mote.mjs"), "mqtt", "sub", "-L", `mqtt://127.0.0.1:${dead}/cli/list,mqtt://127.0.0.1:${port}`, "-q", "1", "-C", "1"],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    const kill = setTimeout(() => child.kill("SIGKILL"), 60_000);
    // published until the subscriber (on the second broker of its list) has it
    for (let i = 0; i < 60 && child.exitCode === null; i++) {
      await mote(["mqtt", "pub", "-h", `127.0.0.1`, "-p", port, "-t", "cli/list", "-m", "over", "-q", "1"]);
      await new Promise((r) => setTimeout(r, 500));
    }
    const code = await exited;
    clearTimeout(kill);
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: "over\n", stderr: "" });
  }, 120_000);

  test("a broker list where every broker is down ends with one line for the last one", async () => {
    const [a, b] = [String(await freePort()), String(await freePort())];
    const r = await mote(["mqtt", "pub", "-L", `mqtt://127.0.0.1:${a}/t,mqtt://127.0.0.1:${b}`, "-m", "x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`mote: refused: the connection to 127.0.0.1:${b} was refused: no broker listens there\n`);
  }, 120_000);

  test("-V 311 (the default) and -q 1 go through", async () => {
    const r = await mote(["mqtt", "pub", "-h", "127.0.0.1", "-p", port, "-t", "cli/ok", "-m", "x", "-q", "1"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
  }, 120_000);
});
