/**
 * Broker-list failover on a real 3-node RabbitMQ cluster (issue 19): a
 * simulated fleet of 5 devices (the device program on XS, test/helpers and
 * host-shim/sim) all on node 1, with every node in their broker list. Node 1
 * is killed (SIGKILL of its beam). Every device must be connected to another
 * node, with no QoS 1 telemetry lost — counted end to end by an MQTT.js
 * subscriber on node 3 from the seq numbers of the records — and the will
 * (status "offline", retained) of every device cut must reach node 3.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Simulation } from "../../host-shim/sim/simulation.js";
import { rabbitmqSkipReason, startRabbitCluster, type RabbitCluster } from "../helpers/rabbitmq.js";
import { gaps, Observer, simulate } from "../xs/device-observer.js";

const skip = rabbitmqSkipReason();
const DEVICES = 5;

describe.skipIf(skip !== undefined)("a fleet on a 3-node RabbitMQ cluster when its node dies", () => {
  let cluster: RabbitCluster;
  let sim: Simulation;
  let observer: Observer;
  let ids: string[] = [];
  let killedAt = 0;
  let allBackAt = 0;
  let seqAtKill: number[] = [];

  beforeAll(async () => {
    cluster = await startRabbitCluster({ nodes: 3 });
    observer = await Observer.connect(cluster.nodes[2].url, "mote/#", "fleet-observer");
    sim = await simulate({
      devices: DEVICES,
      broker: cluster.nodes.map((n) => n.url).join(","),
      spread: false, // every device starts on node 1
      fleet: "failover",
      telemetryMs: 400,
      observeSensor: false,
    });
    await sim.waitFor((s) => s.every((d) => d.device?.healthy === true), 90_000);
    ids = sim.status().map((s) => s.device!.id);
  }, 420_000);

  afterAll(async () => {
    await sim?.stop();
    await observer?.close();
    await cluster?.stop();
  }, 90_000);

  const telemetry = (id: string) => observer.json<{ boot: number; seq: number }>(`mote/${id}/telemetry`);
  const node1 = () => `127.0.0.1:${cluster.nodes[0].mqttPort}`;

  test("the fleet is on node 1 and its telemetry reaches node 3", async () => {
    expect(sim.status().map((_, i) => sim.nodeOf(i))).toEqual(Array(DEVICES).fill(node1()));
    await observer.until(() => ids.every((id) => telemetry(id).length >= 3), "telemetry of every device on node 3", 30_000);
  }, 60_000);

  test("node 1 killed: every device is connected to another node", async () => {
    seqAtKill = ids.map((id) => Math.max(...telemetry(id).map((t) => t.seq)));
    const connectsBefore = sim.status().map((s) => s.device!.counters.mqttConnects);
    killedAt = Date.now();
    await cluster.kill(1);
    await sim.waitFor(
      (s) => s.every((d, i) => d.device?.mqtt.state === "connected" && d.device.counters.mqttConnects > connectsBefore[i] && sim.nodeOf(i) !== node1()),
      90_000,
    );
    allBackAt = Date.now();
    const others = cluster.nodes.slice(1).map((n) => `127.0.0.1:${n.mqttPort}`);
    for (let i = 0; i < DEVICES; i++) expect(others).toContain(sim.nodeOf(i));
    console.log(`failover: ${DEVICES} devices back on nodes 2/3 ${allBackAt - killedAt} ms after node 1 was killed`);
  }, 120_000);

  test("no QoS 1 telemetry record is lost across the move (seq numbers end to end on node 3)", async () => {
    // records published after the move, and everything queued meanwhile, must arrive
    await observer.until(
      () => ids.every((id, i) => telemetry(id).some((t) => t.seq >= seqAtKill[i] + 5)),
      "telemetry after the failover from every device",
      60_000,
    );
    for (const [i, id] of ids.entries()) {
      const records = telemetry(id);
      const boots = new Set(records.map((r) => r.boot));
      expect(boots.size, id).toBe(1);
      const seqs = [...new Set(records.map((r) => r.seq))].sort((a, b) => a - b);
      expect(gaps(seqs), `${id}: seq numbers missing on node 3`).toEqual([]);
      expect(seqs[seqs.length - 1]).toBeGreaterThanOrEqual(seqAtKill[i] + 5);
    }
    for (const s of sim.status()) expect(s.device!.counters.msgsDropped, s.name).toBe(0);
  }, 90_000);

  test("the will of every device cut is delivered on node 3", async () => {
    await observer.until(
      () => ids.every((id) => observer.on(`mote/${id}/status`).some((m) => m.text.includes("offline"))),
      "a will (offline) from every device",
      60_000,
    );
    // and each device is online again after its will
    for (const id of ids) {
      const texts = observer.on(`mote/${id}/status`).map((m) => m.text);
      expect(texts.lastIndexOf("online"), id).toBeGreaterThan(texts.indexOf("offline"));
    }
  }, 90_000);
});
