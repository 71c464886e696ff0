/**
 * The cluster tier's ground truth: test/helpers/rabbitmq.ts starts a real
 * 3-node RabbitMQ cluster (Debian's rabbitmq-server, plugin rabbitmq_mqtt) on
 * 127.0.0.1, and a message published on one node reaches a subscriber on
 * another — the property every other cluster test builds on.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connect, type MqttClient } from "../../src/mqtt/index.js";
import { rabbitmqSkipReason, startRabbitCluster, type RabbitCluster } from "../helpers/rabbitmq.js";
import { connected, text, waitFor } from "../interop/mqtt-helpers.js";

const skip = rabbitmqSkipReason();

describe.skipIf(skip !== undefined)("a 3-node RabbitMQ cluster on loopback", () => {
  let cluster: RabbitCluster;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    cluster = await startRabbitCluster({ nodes: 3 });
  }, 300_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end({ force: true })));
    await cluster?.stop();
  }, 60_000);

  test("has three running nodes with their own names and ports", async () => {
    const status = JSON.parse((await cluster.ctl(3, ["cluster_status", "--formatter", "json"])).replace(/^[^{]*/, "")) as { running_nodes: string[] };
    expect(status.running_nodes.sort()).toEqual(["rabbit1@localhost", "rabbit2@localhost", "rabbit3@localhost"]);
    const ports = cluster.nodes.flatMap((n) => [n.amqpPort, n.mqttPort, n.distPort]);
    expect(new Set(ports).size).toBe(9);
  });

  test("a QoS 1 message published on node 1 reaches a subscriber on node 3", async () => {
    const sub = connect(cluster.nodes[2].url, { clientId: "cluster-sub", protocolVersion: 4 });
    const pub = connect(cluster.nodes[0].url, { clientId: "cluster-pub", protocolVersion: 4 });
    clients.push(sub, pub);
    await Promise.all([connected(sub, 30_000), connected(pub, 30_000)]);
    const got: string[] = [];
    expect(await sub.subscribe("cluster/t", (_t, p) => got.push(text(p)), { qos: 1 })).toEqual([1]);
    await pub.publish("cluster/t", "hello", { qos: 1 });
    await waitFor(() => got.length > 0, 20_000);
    expect(got).toEqual(["hello"]);
  });
});
