/**
 * A fleet spread over a real 3-node RabbitMQ cluster (issue 19): `mote sim
 * --broker n1,n2,n3` puts device i on node i mod 3, and two simulator
 * processes (each with its default fleet name, host name + pid) get disjoint
 * client ids, so neither takes the other's sessions over (every device
 * connects once and stays connected). The fleet name also makes ids stable:
 * the same name gives the same ids.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { macFor } from "../../host-shim/sim/simulation.js";
import { rabbitmqSkipReason, startRabbitCluster, type RabbitCluster } from "../helpers/rabbitmq.js";

const skip = rabbitmqSkipReason();
const root = join(__dirname, "..", "..");
const DEVICES = 3;

interface DeviceJson {
  id?: string;
  healthy: boolean;
  node?: string;
  mqtt?: { state: string };
  counters?: { mqttConnects: number };
}

/** One `mote sim` process and the last status line it printed. */
class SimProcess {
  readonly child: ChildProcess;
  last: DeviceJson[] | undefined;
  stderr = "";
  constructor(args: string[]) {
    this.child = spawn(process.execPath, [join(root, "bin", "mote.mjs"), "sim", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let buf = "";
    this.child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const j = JSON.parse(line) as { devices?: DeviceJson[] };
          if (j.devices) this.last = j.devices;
        } catch {
          // not a status line
        }
      }
    });
    this.child.stderr!.on("data", (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
  }
  async until(pred: (d: DeviceJson[]) => boolean, what: string, ms: number): Promise<DeviceJson[]> {
    const deadline = Date.now() + ms;
    for (let i = 0; i < 10_000; i++) {
      if (this.last !== undefined && pred(this.last)) return this.last;
      if (this.child.exitCode !== null) throw new Error(`mote sim exited (${this.child.exitCode}) before ${what}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`mote sim: not ${what} within ${ms} ms; last ${JSON.stringify(this.last)}; ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error("unreachable");
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.pid === undefined) return;
    const gone = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 20_000);
    await gone;
    clearTimeout(t);
  }
}

describe.skipIf(skip !== undefined)("a simulated fleet on a 3-node RabbitMQ cluster", () => {
  let cluster: RabbitCluster;
  const sims: SimProcess[] = [];

  beforeAll(async () => {
    cluster = await startRabbitCluster({ nodes: 3 });
  }, 300_000);

  afterAll(async () => {
    await Promise.all(sims.map((s) => s.stop()));
    await cluster?.stop();
  }, 90_000);

  test("two simulator processes: disjoint client ids, device i on node i mod 3, no session taken over", async () => {
    const brokers = cluster.nodes.map((n) => n.url).join(",");
    for (let k = 0; k < 2; k++)
      sims.push(new SimProcess(["--broker", brokers, "--devices", String(DEVICES), "--telemetry", "1000", "--json", "--for", "600", "--state", mkdtempSync(join(tmpdir(), "mote-fleet-"))]));
    const healthy = (d: DeviceJson[]) => d.length === DEVICES && d.every((x) => x.healthy && x.mqtt?.state === "connected");
    await Promise.all(sims.map((s) => s.until(healthy, "healthy", 150_000)));
    // a few more status lines: a takeover fight would show as reconnects by now
    await new Promise((r) => setTimeout(r, 4000));
    const [a, b] = await Promise.all(sims.map((s) => s.until(healthy, "still healthy", 60_000)));
    const idsA = a.map((d) => d.id!);
    const idsB = b.map((d) => d.id!);
    expect(new Set(idsA).size).toBe(DEVICES);
    expect(new Set(idsB).size).toBe(DEVICES);
    expect(idsA.filter((id) => idsB.includes(id))).toEqual([]);
    for (const list of [a, b]) {
      expect(list.map((d) => d.node)).toEqual(list.map((_, i) => `127.0.0.1:${cluster.nodes[i % 3].mqttPort}`));
      expect(list.map((d) => d.counters?.mqttConnects)).toEqual(Array(DEVICES).fill(1));
    }
  }, 300_000);

  test("the same fleet name gives the same ids; other names, other ids", () => {
    expect(macFor(7, "plant-a")).toBe(macFor(7, "plant-a"));
    expect(macFor(7, "plant-a")).not.toBe(macFor(7, "plant-b"));
    expect(macFor(7, "plant-a")).not.toBe(macFor(7));
    expect(macFor(7, "plant-a")).toMatch(/^02(:[0-9a-f]{2}){3}:00:07$/);
  });
});
