/**
 * A fleet spread over a real 3-node RabbitMQ cluster (issue 19): `mote sim
 * --broker n1,n2,n3` puts device i on node i mod 3, and two simulator
 * processes (each with its default fleet name, host name + pid) get disjoint
 * client ids, so neither takes the other's sessions over (every device
 * connects once and stays connected). The fleet name also makes ids stable:
 * the same name gives the same ids.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { macFor } from "../../host-shim/sim/simulation.js";
import { SimProcess as SimProcessOf } from "../helpers/sim-process.js";
import { rabbitmqSkipReason, startRabbitCluster, type RabbitCluster } from "../helpers/rabbitmq.js";

const skip = rabbitmqSkipReason();
const DEVICES = 3;

interface DeviceJson {
  id?: string;
  healthy: boolean;
  node?: string;
  mqtt?: { state: string };
  counters?: { mqttConnects: number };
}

class SimProcess extends SimProcessOf<DeviceJson> {}

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
