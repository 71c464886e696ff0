/**
 * Failover to a broker that lacks the session (MQTT 3.1.1 §4.4): two
 * independent mosquitto brokers in one client's list. The client is on the
 * first, with a persistent session and a subscription; the first is killed;
 * QoS 1 messages published meanwhile wait in the offline queue. On the second
 * broker (CONNACK Session Present 0) the client subscribes again, sends every
 * queued message, and publishes its will there (the dead broker never did).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import mqtt, { type MqttClient as PeerClient } from "mqtt";
import { connect, type MqttClient } from "../../src/mqtt/index.js";
import { encodeUtf8 } from "../../src/util/utf8.js";
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { connected, once, text, waitFor } from "./mqtt-helpers.js";

const skip = mosquittoSkipReason();

describe.skipIf(skip !== undefined)("a broker list of two independent mosquittos", () => {
  let m1: Mosquitto;
  let m2: Mosquitto;
  let client: MqttClient;
  let peer: PeerClient;
  const onSecond: { topic: string; text: string }[] = [];
  const got: string[] = [];

  beforeAll(async () => {
    [m1, m2] = await Promise.all([startMosquitto(), startMosquitto()]);
    peer = mqtt.connect(m2.url, { clientId: "failover-peer", protocolVersion: 4 });
    await new Promise<void>((resolve, reject) => {
      peer.once("connect", () => resolve());
      peer.once("error", reject);
    });
    await peer.subscribeAsync("fo/#", { qos: 1 });
    peer.on("message", (topic, payload) => onSecond.push({ topic, text: payload.toString() }));
  }, 30_000);

  afterAll(async () => {
    await client?.end({ force: true });
    await peer?.endAsync(true);
    await Promise.all([m1?.close(), m2?.close()]);
  });

  test("moves to the second broker, subscribes again, sends the queued QoS 1 messages and its will there", async () => {
    client = connect(`${m1.url},${m2.url}`, {
      clientId: "failover-dev",
      clean: false,
      protocolVersion: 4,
      reconnect: { initialDelayMs: 200, maxDelayMs: 1000 },
      will: { topic: "fo/status", payload: encodeUtf8("offline"), qos: 1, retain: true },
    });
    await connected(client, 10_000);
    expect(client.broker).toMatchObject({ index: 0, port: m1.port });
    expect(await client.subscribe("fo/in", (_t, p) => got.push(text(p)), { qos: 1 })).toEqual([1]);
    await client.publish("fo/status", "online", { qos: 1, retain: true });

    const sessions: boolean[] = [];
    client.on("connect", (info) => sessions.push(info.sessionPresent));
    // listen first: the client may notice the dead socket before stop() returns
    const offline = once(client, "offline", 10_000);
    await m1.stop("SIGKILL");
    await offline;
    const sent = [1, 2, 3, 4, 5].map((i) => client.publish("fo/out", `m${i}`, { qos: 1 }));
    await Promise.all(sent); // resolved only by PUBACKs of the second broker
    expect(client.broker).toMatchObject({ index: 1, port: m2.port });
    expect(sessions).toEqual([false]); // the second broker had no session

    await waitFor(() => onSecond.filter((m) => m.topic === "fo/out").length >= 5, 10_000);
    expect(onSecond.filter((m) => m.topic === "fo/out").map((m) => m.text)).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    expect(onSecond.filter((m) => m.topic === "fo/status").map((m) => m.text)).toEqual(["offline"]);

    // the subscription was made again on the second broker
    await peer.publishAsync("fo/in", "hello", { qos: 1 });
    await waitFor(() => got.length > 0, 10_000);
    expect(got).toEqual(["hello"]);
  }, 60_000);
});
