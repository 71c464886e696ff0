/**
 * MqttClient.send(): publish() without a promise (the device link's path, for
 * less garbage per message on XS), against mosquitto: the callback is called
 * once per message — undefined when QoS 0 is written, at PUBACK for QoS 1, at
 * PUBCOMP for QoS 2 — with the messages delivered in order; with the error
 * publish() would reject with for a bad topic or a full write buffer; with
 * "ended" for what end() leaves unsent. A callback that throws is an "error"
 * event (code "handler"), and the client goes on.
 */
import { describe, expect, test } from "vitest";
import { connect, type MqttClient } from "../../src/mqtt/index.js";
import { mosquittoSkipReason } from "../helpers/mosquitto.js";
import { brokerAndNoAck, collect, connected, text, waitFor } from "./mqtt-helpers.js";

const skip = mosquittoSkipReason();
const clients: MqttClient[] = [];
const peers = brokerAndNoAck(skip, async () => {
  for (const c of clients) await c.end({ force: true }).catch(() => undefined);
});

function client(id: string, port = peers.broker.port, extra: Record<string, unknown> = {}): MqttClient {
  const c = connect({ host: "127.0.0.1", port, clientId: id, protocolVersion: 5, reconnect: false, ...extra });
  clients.push(c);
  return c;
}

describe.skipIf(skip !== undefined)("MqttClient.send (a publish with a callback, no promise)", () => {
  test("QoS 0, 1 and 2: the callback is called once each, after the broker has the message; delivered in order", async () => {
    const sub = client("send-sub");
    await connected(sub);
    const got = collect(sub, "send/#");
    await sub.subscribe("send/#", undefined, { qos: 2 });
    const pub = client("send-pub");
    await connected(pub);
    const outcomes: (string | undefined)[] = [];
    const done = (e: Error | undefined) => outcomes.push(e === undefined ? "ok" : (e as { code?: string }).code);
    for (let i = 0; i < 30; i++) pub.send(`send/q${i % 3}`, `m${i}`, { qos: (i % 3) as 0 | 1 | 2 }, done);
    await waitFor(() => outcomes.length === 30 && got.length === 30);
    expect(outcomes).toEqual(Array(30).fill("ok"));
    for (const q of [0, 1, 2]) expect(got.filter((p) => p.topic === `send/q${q}`).map((p) => text(p.payload))).toEqual(Array.from({ length: 10 }, (_, k) => `m${k * 3 + q}`));
  });

  test("the payload is read during the call only: one array reused for every message, each delivered as it was at its call", async () => {
    const sub = client("send-borrow-sub");
    await connected(sub);
    const got = collect(sub, "borrow/#");
    await sub.subscribe("borrow/#", undefined, { qos: 1 });
    const pub = client("send-borrow-pub", peers.broker.port, { maxInflight: 2 });
    const scratch = new Uint8Array(300);
    const outcomes: (Error | undefined)[] = [];
    const fill = (i: number) => {
      scratch.fill(0x61 + (i % 26));
      scratch[0] = 0x30 + (i % 10);
    };
    // before the connection (queued offline), then online past the in-flight window (queued behind it)
    for (let i = 0; i < 3; i++) (fill(i), pub.send("borrow/q", scratch, { qos: 1 }, (e) => outcomes.push(e)));
    await connected(pub);
    for (let i = 3; i < 12; i++) (fill(i), pub.send("borrow/q", scratch, { qos: i % 2 as 0 | 1 }, (e) => outcomes.push(e)));
    scratch.fill(0);
    await waitFor(() => outcomes.length === 12 && got.length === 12);
    expect(outcomes).toEqual(Array(12).fill(undefined));
    const expected = Array.from({ length: 12 }, (_, i) => `${i % 10}${String.fromCharCode(0x61 + (i % 26)).repeat(299)}`);
    expect(got.map((p) => text(p.payload))).toEqual(expected);
  });

  test("a bad topic: the error publish() rejects with, through the callback, and the client goes on", async () => {
    const c = client("send-bad");
    await connected(c);
    const errors: unknown[] = [];
    c.send("bad/#/topic", "x", { qos: 1 }, (e) => errors.push(e));
    expect(errors).toHaveLength(1);
    expect((errors[0] as { code?: string }).code).toBe("invalid-topic");
    await expect(c.publish("bad/ok", "y", { qos: 1 })).resolves.toBeUndefined();
  });

  test("a full write buffer refuses QoS 0 with overflow", async () => {
    const c = client("send-full", peers.fake.port, { maxWriteBuffer: 0 });
    await connected(c);
    const codes: (string | undefined)[] = [];
    const done = (e: Error | undefined) => codes.push((e as { code?: string } | undefined)?.code);
    // the socket takes the first write; with a 0-byte limit, the next packets wait and the one after is refused
    for (let i = 0; i < 200; i++) c.send("send/full", new Uint8Array(1024), { qos: 0 }, done);
    await waitFor(() => codes.includes("overflow"));
    expect(codes.filter((x) => x === "overflow").length).toBeGreaterThan(0);
  });

  test("what end() leaves unacknowledged is told 'ended'; a callback that throws is an error event, and the others still run", async () => {
    const c = client("send-end", peers.fake.port); // never acknowledges
    await connected(c);
    const errors: { code?: string }[] = [];
    c.on("error", (e) => errors.push(e as { code?: string }));
    const seen: (string | undefined)[] = [];
    c.send("send/end", "a", { qos: 1 }, () => {
      throw new Error("a program bug");
    });
    c.send("send/end", "b", { qos: 1 }, (e) => seen.push((e as { code?: string } | undefined)?.code));
    await c.end({ force: true });
    expect(seen).toEqual(["ended"]);
    expect(errors.map((e) => e.code)).toContain("handler");
  });
});
