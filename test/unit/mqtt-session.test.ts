import { describe, expect, test } from "vitest";
import { MqttSession, type SessionAction, type SessionOptions } from "../../src/mqtt/session.js";
import { MqttDecoder, encodePacket } from "../../src/mqtt/codec.js";
import type { MqttPacket, ProtocolVersion, PublishPacket } from "../../src/mqtt/packets.js";
import { MoteError } from "../../src/errors.js";
import { prng } from "./mqtt-codec-helpers.js";

/** Send actions by packet type, other actions by their own type. */
function kinds(actions: SessionAction[]): string[] {
  return actions.map((a) => (a.type === "send" ? a.packet.type : a.type));
}
function sent(actions: SessionAction[]): MqttPacket[] {
  return actions.flatMap((a) => (a.type === "send" ? [a.packet] : []));
}
/** What the server sees: the bytes of every send, decoded by an independent decoder. */
function wire(actions: SessionAction[], v: ProtocolVersion = 5): MqttPacket[] {
  const d = new MqttDecoder({ version: v, maxPacketSize: 1 << 20 });
  for (const a of actions) if (a.type === "send") d.push(a.data);
  const out: MqttPacket[] = [];
  for (let r = d.next(); r !== undefined; r = d.next()) {
    if (r instanceof Error) throw r;
    out.push(r);
  }
  return out;
}
function bytes(p: MqttPacket, v: ProtocolVersion = 5): { type: "bytes"; data: Uint8Array } {
  return { type: "bytes", data: encodePacket(p, v) };
}
const text = (s: string) => new TextEncoder().encode(s);
const CONNACK = (props: Record<string, unknown> = {}, sessionPresent = false): MqttPacket => ({
  type: "connack", sessionPresent, reasonCode: 0, ...(Object.keys(props).length ? { properties: props } : {}),
});

function connected(options: Partial<SessionOptions> = {}, connack: MqttPacket = CONNACK()) {
  const s = new MqttSession({ clientId: "t", ...options });
  const v = s.version;
  s.handle({ type: "open" }, 0);
  const actions = s.handle(bytes(connack, v), 0);
  expect(s.state).toBe("connected");
  return { s, actions };
}

function pub(topic: string, qos: 0 | 1 | 2, payload = "x") {
  return { type: "publish" as const, message: { topic, payload: text(payload), qos }, ref: topic + ":" + payload };
}

describe("connecting", () => {
  test("open sends CONNECT with the options, CONNACK makes the session connected", () => {
    const s = new MqttSession({
      clientId: "dev1", keepAlive: 30, username: "u", password: "p", clean: false, sessionExpiry: 600,
      will: { topic: "dev1/status", payload: text("gone"), qos: 1, retain: true, properties: { willDelayInterval: 5 } },
    });
    const [connect] = wire(s.handle({ type: "open" }, 0));
    expect(connect).toMatchObject({
      type: "connect", protocolVersion: 5, clientId: "dev1", clean: false, keepAlive: 30, username: "u",
      will: { topic: "dev1/status", qos: 1, retain: true, properties: { willDelayInterval: 5 } },
      properties: { sessionExpiryInterval: 600, maximumPacketSize: 16384, topicAliasMaximum: 16 },
    });
    expect(s.state).toBe("connecting");
    const actions = s.handle(bytes(CONNACK()), 5);
    expect(kinds(actions)).toEqual(["connected"]);
    expect(s.state).toBe("connected");
  });

  test("a 3.1.1 session sends a 3.1.1 CONNECT without properties", () => {
    const s = new MqttSession({ clientId: "x", protocolVersion: 4 });
    const [connect] = wire(s.handle({ type: "open" }, 0), 4);
    expect(connect).toEqual({ type: "connect", protocolVersion: 4, clientId: "x", clean: true, keepAlive: 60 });
  });

  test("no CONNACK within the connect timeout closes with connect-timeout", () => {
    const s = new MqttSession({ clientId: "t", connectTimeoutMs: 5000 });
    s.handle({ type: "open" }, 100);
    expect(s.nextDeadline()).toBe(5100);
    expect(s.handle({ type: "timer" }, 5100)).toEqual([{ type: "close", reason: { code: "connect-timeout" } }]);
    expect(s.state).toBe("disconnected");
  });

  test("a refused 3.1.1 CONNACK closes with the v5 equivalent of its return code", () => {
    const s = new MqttSession({ clientId: "t", protocolVersion: 4 });
    s.handle({ type: "open" }, 0);
    const actions = s.handle(bytes({ type: "connack", sessionPresent: false, reasonCode: 5 }, 4), 1);
    expect(actions).toEqual([{ type: "close", reason: { code: "connect-refused", reasonCode: 0x87, message: "not authorized" } }]);
  });

  test("the server's keep alive and assigned client id win (v5 §3.2.2.3)", () => {
    const { s } = connected({ clientId: "", keepAlive: 60 }, CONNACK({ serverKeepAlive: 5, assignedClientIdentifier: "srv-42" }));
    expect(s.clientId).toBe("srv-42");
    expect(s.nextDeadline()).toBe(5000);
  });

  test("a packet other than CONNACK first is a protocol error", () => {
    const s = new MqttSession({ clientId: "t" });
    s.handle({ type: "open" }, 0);
    const actions = s.handle(bytes({ type: "pingresp" }), 1);
    expect(kinds(actions)).toEqual(["disconnect", "close"]);
    expect(wire(actions)[0]).toEqual({ type: "disconnect", reasonCode: 0x82 });
  });
});

describe("keepalive", () => {
  test("an idle session pings at keepalive and closes when PINGRESP misses its deadline", () => {
    const s = new MqttSession({ clientId: "t", keepAlive: 10, maxPacketSize: 4096 });
    let now = 0;
    expect(kinds(s.handle({ type: "open" }, now))).toEqual(["connect"]);
    s.handle(bytes(CONNACK()), now);
    expect(s.nextDeadline()).toBe(10_000);
    now = s.nextDeadline()!;
    expect(kinds(s.handle({ type: "timer" }, now))).toEqual(["pingreq"]);
    now = s.nextDeadline()!; // nothing came back
    expect(now).toBe(20_000);
    expect(s.handle({ type: "timer" }, now)).toEqual([{ type: "close", reason: { code: "keepalive-timeout" } }]);
    expect(s.state).toBe("disconnected");
  });

  test("a PINGRESP in time keeps the link, and the next ping comes a keepalive after the last send", () => {
    const { s } = connected({ keepAlive: 10 });
    s.handle({ type: "timer" }, 10_000);
    s.handle(bytes({ type: "pingresp" }), 10_300);
    expect(s.nextDeadline()).toBe(20_000);
    expect(kinds(s.handle({ type: "timer" }, 20_000))).toEqual(["pingreq"]);
  });

  test("any packet sent pushes the next ping back", () => {
    const { s } = connected({ keepAlive: 10 });
    s.handle(pub("a", 0), 4000);
    expect(s.nextDeadline()).toBe(14_000);
    expect(s.handle({ type: "timer" }, 10_000)).toEqual([]);
  });

  test("keepAlive 0 turns pings off", () => {
    const { s } = connected({ keepAlive: 0 });
    expect(s.nextDeadline()).toBeUndefined();
  });
});

describe("outgoing QoS", () => {
  test("QoS 0 is sent at once and completes when written", () => {
    const { s } = connected();
    const actions = s.handle(pub("a/b", 0, "hi"), 1);
    expect(kinds(actions)).toEqual(["publish", "published"]);
    expect(wire(actions)[0]).toMatchObject({ topic: "a/b", qos: 0 });
  });

  test("QoS 1 completes at PUBACK with the packet id it was sent with", () => {
    const { s } = connected();
    const [p] = sent(s.handle(pub("a", 1), 1)) as PublishPacket[];
    expect(p.packetId).toBe(1);
    expect(s.inflightCount).toBe(1);
    const done = s.handle(bytes({ type: "puback", packetId: 1, reasonCode: 0 }), 2);
    expect(done).toEqual([{ type: "published", ref: "a:x", reasonCode: 0 }]);
    expect(s.inflightCount).toBe(0);
  });

  test("QoS 2 goes PUBLISH, PUBREC, PUBREL, PUBCOMP and completes at PUBCOMP", () => {
    const { s } = connected();
    s.handle(pub("a", 2), 1);
    expect(kinds(s.handle(bytes({ type: "pubrec", packetId: 1, reasonCode: 0 }), 2))).toEqual(["pubrel"]);
    // a duplicate PUBREC gets the PUBREL again
    expect(kinds(s.handle(bytes({ type: "pubrec", packetId: 1, reasonCode: 0 }), 3))).toEqual(["pubrel"]);
    expect(s.handle(bytes({ type: "pubcomp", packetId: 1, reasonCode: 0 }), 4)).toEqual([{ type: "published", ref: "a:x", reasonCode: 0 }]);
  });

  test("a v5 PUBACK with a failure reason rejects the publish", () => {
    const { s } = connected();
    s.handle(pub("a", 1), 1);
    const [a] = s.handle(bytes({ type: "puback", packetId: 1, reasonCode: 0x87, properties: { reasonString: "nope" } }), 2);
    expect(a).toEqual({ type: "failed", ref: "a:x", error: { code: "rejected", reasonCode: 0x87, message: "nope" } });
  });

  test("the in-flight window is bounded by the server's Receive Maximum (§4.9)", () => {
    const { s } = connected({ maxInflight: 10 }, CONNACK({ receiveMaximum: 2 }));
    expect(s.window).toBe(2);
    const out = [1, 2, 3, 4, 5].flatMap((i) => sent(s.handle(pub("t", 1, String(i)), i)));
    expect(out.map((p) => (p as PublishPacket).packetId)).toEqual([1, 2]);
    expect(s.queuedCount).toBe(3);
    const next = s.handle(bytes({ type: "puback", packetId: 1, reasonCode: 0 }), 10);
    expect(kinds(next)).toEqual(["published", "publish"]);
    expect((sent(next)[0] as PublishPacket).packetId).toBe(3);
  });

  test("QoS above the server's Maximum QoS and retain when unavailable are refused", () => {
    const { s } = connected({}, CONNACK({ maximumQoS: 1, retainAvailable: false }));
    expect(s.handle(pub("a", 2), 1)).toEqual([{ type: "failed", ref: "a:x", error: { code: "qos-not-supported", reasonCode: 0x9b } }]);
    const r = s.handle({ type: "publish", message: { topic: "a", payload: text("x"), qos: 0, retain: true }, ref: 1 }, 2);
    expect(r).toEqual([{ type: "failed", ref: 1, error: { code: "retain-not-supported", reasonCode: 0x9a } }]);
  });

  test("a message over the server's Maximum Packet Size is refused", () => {
    const { s } = connected({}, CONNACK({ maximumPacketSize: 64 }));
    const [a] = s.handle({ type: "publish", message: { topic: "a", payload: new Uint8Array(100), qos: 1 }, ref: 7 }, 1);
    expect(a).toMatchObject({ type: "failed", ref: 7, error: { code: "packet-too-large" } });
  });

  test("misuse throws MoteError: a wildcard topic, QoS 3", () => {
    const { s } = connected();
    expect(() => s.handle(pub("a/+", 0), 1)).toThrow(MoteError);
    expect(() => s.handle({ type: "publish", message: { topic: "a", payload: text(""), qos: 3 as 0 } }, 1)).toThrow(/invalid-qos/);
  });
});

describe("incoming QoS", () => {
  test("QoS 1 is delivered and acknowledged", () => {
    const { s } = connected();
    const actions = s.handle(bytes({ type: "publish", topic: "c", payload: text("1"), qos: 1, retain: false, dup: false, packetId: 9 }), 1);
    expect(kinds(actions)).toEqual(["message", "puback"]);
    expect(wire(actions)[0]).toEqual({ type: "puback", packetId: 9, reasonCode: 0 });
  });

  test("bytes from a borrowed read (a socket's scratch, written again after handle()): what the session keeps is a copy", () => {
    const { s } = connected();
    const publish = (id: number, payload: string): MqttPacket => ({
      type: "publish", topic: "c", payload: text(payload), qos: 1, retain: false, dup: false, packetId: id,
      properties: { correlationData: text(`corr-${id}`) },
    });
    const scratch = new Uint8Array(64);
    /** `part` through the one scratch array, as readScratch() hands it out; then the array is written again. */
    const read = (part: Uint8Array, now: number) => {
      const view = scratch.subarray(0, part.length);
      view.set(part);
      const actions = s.handle({ type: "bytes", data: view, borrowed: true }, now);
      scratch.fill(0x58);
      return actions;
    };
    const first = encodePacket(publish(1, "whole"), 5);
    const second = encodePacket(publish(2, "split across two reads"), 5);
    const delivered: MqttPacket[] = [];
    const take = (actions: SessionAction[]) => actions.forEach((a) => a.type === "message" && delivered.push(a.packet));
    take(read(first, 1));
    take(read(second.subarray(0, 10), 2)); // part of a packet, held across reads
    take(read(second.subarray(10), 3));
    expect(delivered.map((p) => p.type === "publish" && [new TextDecoder().decode(p.payload), new TextDecoder().decode(p.properties!.correlationData)])).toEqual([
      ["whole", "corr-1"],
      ["split across two reads", "corr-2"],
    ]);
  });

  test("QoS 2 is delivered exactly once: a duplicate before PUBREL only gets PUBREC again", () => {
    const { s } = connected();
    const p: MqttPacket = { type: "publish", topic: "c", payload: text("1"), qos: 2, retain: false, dup: false, packetId: 7 };
    expect(kinds(s.handle(bytes(p), 1))).toEqual(["message", "pubrec"]);
    expect(kinds(s.handle(bytes({ ...p, dup: true }), 2))).toEqual(["pubrec"]);
    expect(s.incomingCount).toBe(1);
    const rel = s.handle(bytes({ type: "pubrel", packetId: 7, reasonCode: 0 }), 3);
    expect(wire(rel)).toEqual([{ type: "pubcomp", packetId: 7, reasonCode: 0 }]);
    expect(s.incomingCount).toBe(0);
    // the id is free again: a new message with it is a new message
    expect(kinds(s.handle(bytes(p), 4))).toEqual(["message", "pubrec"]);
  });

  test("a PUBREL for an unknown id is answered with 0x92 in v5", () => {
    const { s } = connected();
    expect(wire(s.handle(bytes({ type: "pubrel", packetId: 3, reasonCode: 0 }), 1))).toEqual([{ type: "pubcomp", packetId: 3, reasonCode: 0x92 }]);
  });

  test("more QoS 2 messages held than our Receive Maximum closes with 0x93", () => {
    const { s } = connected({ receiveMaximum: 2 });
    for (const id of [1, 2]) s.handle(bytes({ type: "publish", topic: "c", payload: text(""), qos: 2, retain: false, dup: false, packetId: id }), id);
    const actions = s.handle(bytes({ type: "publish", topic: "c", payload: text(""), qos: 2, retain: false, dup: false, packetId: 3 }), 3);
    expect(wire(actions)).toEqual([{ type: "disconnect", reasonCode: 0x93 }]);
    expect(actions.at(-1)).toMatchObject({ type: "close", reason: { code: "receive-maximum-exceeded", reasonCode: 0x93 } });
  });
});

describe("topic aliases (v5 §3.3.2.3.4)", () => {
  test("outgoing: first use carries topic and alias, later uses only the alias, a full table sends topics in full", () => {
    const { s } = connected({}, CONNACK({ topicAliasMaximum: 2 }));
    const out = ["a/1", "a/1", "a/2", "a/3", "a/2"].flatMap((t, i) => wire(s.handle(pub(t, 0), i))) as PublishPacket[];
    expect(out.map((p) => [p.topic, p.properties?.topicAlias])).toEqual([
      ["a/1", 1], ["", 1], ["a/2", 2], ["a/3", undefined], ["", 2],
    ]);
  });

  test("borrowed payloads in kept buffers with aliases: a first use a few bytes longer (topic and alias) and the later ones each carry their own bytes", () => {
    const { s } = connected({}, CONNACK({ topicAliasMaximum: 2 }));
    const scratch = new Uint8Array(61); // 2 + 3 + 2 + 61 = a 68-byte body: the alias property's 3 bytes pass a 64-byte step
    const out: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      scratch.fill(0x61 + i);
      const actions = s.handle({ type: "publish", message: { topic: "a/1", payload: scratch, qos: 1, borrowed: true }, ref: i }, i);
      scratch.fill(0x58);
      // read now: a "send" action's bytes are the kept buffer, written again once the message is acknowledged
      for (const p of wire(actions) as PublishPacket[]) out.push([p.topic, p.properties?.topicAlias, p.payload[0], p.payload.length]);
      s.handle(bytes({ type: "puback", packetId: i + 1, reasonCode: 0 }), i);
    }
    expect(out).toEqual([
      ["a/1", 1, 0x61, 61], ["", 1, 0x62, 61], ["", 1, 0x63, 61], ["", 1, 0x64, 61],
    ]);
  });

  test("no aliases toward a server that allows none", () => {
    const { s } = connected();
    const [p] = wire(s.handle(pub("a/1", 0), 1)) as PublishPacket[];
    expect(p.properties).toBeUndefined();
  });

  test("incoming: an alias set with a topic resolves later empty topics", () => {
    const { s } = connected();
    s.handle(bytes({ type: "publish", topic: "x/y", payload: text("1"), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } }), 1);
    const [m] = s.handle(bytes({ type: "publish", topic: "", payload: text("2"), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } }), 2);
    expect(m).toMatchObject({ type: "message", packet: { topic: "x/y" } });
  });

  test("an unknown alias is a protocol error, an alias above our maximum is 0x94", () => {
    const a = connected().s.handle(bytes({ type: "publish", topic: "", payload: text(""), qos: 0, retain: false, dup: false, properties: { topicAlias: 1 } }), 1);
    expect(wire(a)).toEqual([{ type: "disconnect", reasonCode: 0x82 }]);
    const b = connected({ topicAliasMaximum: 4 }).s.handle(bytes({ type: "publish", topic: "t", payload: text(""), qos: 0, retain: false, dup: false, properties: { topicAlias: 5 } }), 1);
    expect(wire(b)).toEqual([{ type: "disconnect", reasonCode: 0x94 }]);
  });

  test("aliases do not outlive the connection", () => {
    const { s } = connected({}, CONNACK({ topicAliasMaximum: 2 }));
    s.handle(pub("a/1", 0), 1);
    s.handle({ type: "closed" }, 2);
    s.handle({ type: "open" }, 3);
    s.handle(bytes(CONNACK({ topicAliasMaximum: 2 })), 3);
    const [p] = wire(s.handle(pub("a/1", 0), 4)) as PublishPacket[];
    expect([p.topic, p.properties?.topicAlias]).toEqual(["a/1", 1]);
  });
});

describe("reconnecting", () => {
  test("with the session present, unacknowledged PUBLISH is resent with DUP and PUBREL re-sent", () => {
    const { s } = connected({ clean: false });
    s.handle(pub("q1", 1), 1);
    s.handle(pub("q2", 2), 2);
    s.handle(bytes({ type: "pubrec", packetId: 2, reasonCode: 0 }), 3);
    s.handle({ type: "closed" }, 4);
    expect(s.state).toBe("disconnected");
    const [connect] = wire(s.handle({ type: "open" }, 5));
    expect(connect).toMatchObject({ clean: false });
    const out = wire(s.handle(bytes(CONNACK({}, true)), 6));
    expect(out).toEqual([
      { type: "publish", topic: "q1", payload: text("x"), qos: 1, retain: false, dup: true, packetId: 1 },
      { type: "pubrel", packetId: 2, reasonCode: 0 },
    ]);
    expect(s.handle(bytes({ type: "pubcomp", packetId: 2, reasonCode: 0 }), 7)).toEqual([{ type: "published", ref: "q2:x", reasonCode: 0 }]);
  });

  test("without the session present, subscriptions are re-made and in-flight PUBLISH goes again as new", () => {
    const { s } = connected();
    s.handle({ type: "subscribe", subscriptions: [{ filter: "cmd/#", qos: 1 }], ref: "sub" }, 1);
    s.handle(bytes({ type: "suback", packetId: 1, reasonCodes: [1] }), 2);
    s.handle(pub("t", 1), 3);
    s.handle({ type: "closed" }, 4);
    s.handle({ type: "open" }, 5);
    const out = wire(s.handle(bytes(CONNACK({}, false)), 6));
    expect(out.map((p) => p.type)).toEqual(["subscribe", "publish"]);
    expect(out[0]).toMatchObject({ subscriptions: [{ filter: "cmd/#", qos: 1 }] });
    expect(out[1]).toMatchObject({ topic: "t", dup: false, qos: 1 });
  });

  test("a subscription refused by the server is not re-made", () => {
    const { s } = connected();
    s.handle({ type: "subscribe", subscriptions: [{ filter: "no/#", qos: 1 }], ref: "sub" }, 1);
    expect(s.handle(bytes({ type: "suback", packetId: 1, reasonCodes: [0x87] }), 2)).toEqual([{ type: "subscribed", ref: "sub", reasonCodes: [0x87] }]);
    s.handle({ type: "closed" }, 3);
    s.handle({ type: "open" }, 4);
    expect(wire(s.handle(bytes(CONNACK()), 5))).toEqual([]);
  });

  test("the resend respects a smaller window on the new connection", () => {
    const { s } = connected({ clean: false });
    for (let i = 0; i < 4; i++) s.handle(pub("t", 1, String(i)), i);
    s.handle({ type: "closed" }, 5);
    s.handle({ type: "open" }, 6);
    const out = wire(s.handle(bytes(CONNACK({ receiveMaximum: 2 }, true)), 7)) as PublishPacket[];
    expect(out.map((p) => [p.packetId, p.dup])).toEqual([[1, true], [2, true]]);
    const more = wire(s.handle(bytes({ type: "puback", packetId: 1, reasonCode: 0 }), 8)) as PublishPacket[];
    expect(more.map((p) => [p.packetId, p.dup])).toEqual([[3, true]]);
  });
});

describe("a borrowed payload (OutgoingMessage.borrowed: the caller reuses its array)", () => {
  const borrowed = (payload: Uint8Array, qos: 0 | 1, ref: unknown) => ({ type: "publish" as const, message: { topic: "t", payload, qos: qos as 0 | 1, borrowed: true }, ref });
  /** What the caller's scratch holds next: every byte overwritten. */
  const reuse = (scratch: Uint8Array) => scratch.fill(0x58);

  test("sent now: the in-flight message keeps the bytes it was sent with, and a resend (DUP) carries them", () => {
    const { s } = connected({ clean: false, persistent: true });
    const scratch = text("first message");
    const first = wire(s.handle(borrowed(scratch, 1, 1), 1));
    reuse(scratch);
    expect(new TextDecoder().decode((first[0] as PublishPacket).payload)).toBe("first message");
    expect(new TextDecoder().decode(s.snapshot().outgoing[0].packet.payload)).toBe("first message");
    s.handle({ type: "closed" }, 2);
    s.handle({ type: "open" }, 3);
    const resent = wire(s.handle(bytes(CONNACK({}, true)), 4)).filter((p) => p.type === "publish") as PublishPacket[];
    expect(resent).toHaveLength(1);
    expect(resent[0]).toMatchObject({ dup: true, packetId: 1 });
    expect(new TextDecoder().decode(resent[0].payload)).toBe("first message");
  });

  test("offline, and behind a full window: the queued message is a copy", () => {
    const offline = new MqttSession({ clientId: "t" });
    const a = text("queued offline");
    offline.handle(borrowed(a, 1, 1), 0);
    reuse(a);
    offline.handle({ type: "open" }, 1);
    const out = wire(offline.handle(bytes(CONNACK()), 2)).filter((p) => p.type === "publish") as PublishPacket[];
    expect(new TextDecoder().decode(out[0].payload)).toBe("queued offline");

    const { s } = connected({}, CONNACK({ receiveMaximum: 1 }));
    s.handle(borrowed(text("in flight"), 1, 1), 1);
    const b = text("waits for room");
    expect(sent(s.handle(borrowed(b, 1, 2), 2))).toEqual([]);
    reuse(b);
    const next = wire(s.handle(bytes({ type: "puback", packetId: 1, reasonCode: 0 }), 3)) as PublishPacket[];
    expect(new TextDecoder().decode(next[0].payload)).toBe("waits for room");
  });

  test("an acknowledged message's buffer is written again by the next one; a message in flight keeps its own", () => {
    const { s } = connected();
    const scratch = new Uint8Array(200);
    const send = (fill: number, ref: number, now: number) => {
      scratch.fill(fill);
      const a = s.handle(borrowed(scratch, 1, ref), now).find((x) => x.type === "send");
      reuse(scratch);
      return a!.type === "send" ? a!.data : new Uint8Array(0);
    };
    const first = send(0x41, 1, 1);
    s.handle(bytes({ type: "puback", packetId: 1, reasonCode: 0 }), 2);
    const second = send(0x42, 2, 3); // steady telemetry: one buffer, no array per message
    expect(second.buffer).toBe(first.buffer);
    expect(wire([{ type: "send", data: second, packet: { type: "pingreq" } }])[0]).toMatchObject({ packetId: 2, payload: new Uint8Array(200).fill(0x42) });
    const third = send(0x43, 3, 4); // the second is still in flight: its bytes are not touched
    expect(third.buffer).not.toBe(second.buffer);
    expect(s.snapshot().outgoing.map((o) => o.packet.payload[0])).toEqual([0x42, 0x43]);
    expect(s.snapshot().outgoing[0].packet.payload.buffer).not.toBe(second.buffer); // a snapshot is kept: copies
    expect(s.held().outgoing[0].packet.payload.buffer).toBe(second.buffer); // held() is read at once: views
  });

  test("a snapshot and a message put back in the queue keep their bytes once the buffer is written again", () => {
    const { s } = connected({ clean: false, persistent: true });
    s.handle(borrowed(text("first"), 1, 1), 1);
    const saved = s.snapshot(); // a store may keep the object (SessionStore.save)
    // the server lost the session: "first" goes back to the queue and out again, as a new message
    s.handle({ type: "closed" }, 2);
    s.handle({ type: "open" }, 3);
    const again = wire(s.handle(bytes(CONNACK({}, false)), 4)).filter((p) => p.type === "publish") as PublishPacket[];
    expect(new TextDecoder().decode(again[0].payload)).toBe("first");
    s.handle(borrowed(text("XXXXX"), 1, 2), 5); // takes the buffer "first" was given back from
    expect(new TextDecoder().decode(saved.outgoing[0].packet.payload)).toBe("first");
    s.handle({ type: "closed" }, 6);
    s.handle({ type: "open" }, 7);
    const resent = wire(s.handle(bytes(CONNACK({}, true)), 8)).filter((p) => p.type === "publish") as PublishPacket[];
    expect(resent.map((p) => [p.dup, new TextDecoder().decode(p.payload)])).toEqual([
      [true, "first"],
      [true, "XXXXX"],
    ]);
  });

  test("kept buffers, records and packets used again: 300 random steps of sends, acks out of order and reconnects keep every message's bytes", () => {
    const rnd = prng(17);
    const { s } = connected({ clean: false, persistent: true, maxInflight: 8 });
    const scratch = new Uint8Array(300);
    const expected = new Map<number, string>(); // packet id -> payload, while unacknowledged
    const check = (actions: SessionAction[]) => {
      for (const p of wire(actions)) {
        if (p.type !== "publish") continue;
        const text = new TextDecoder().decode(p.payload);
        if (p.dup) expect(text).toBe(expected.get(p.packetId!));
        else expected.set(p.packetId!, text);
      }
    };
    let now = 1;
    for (let step = 0; step < 300; step++) {
      const r = rnd();
      if (r < 0.5) {
        const text = `message ${step} `.repeat(1 + Math.floor(rnd() * 12));
        scratch.set(new TextEncoder().encode(text));
        check(s.handle(borrowed(scratch.subarray(0, text.length), 1, step), now++));
        reuse(scratch);
      } else if (r < 0.9 && expected.size > 0) {
        const ids = [...expected.keys()];
        const id = ids[Math.floor(rnd() * ids.length)];
        expected.delete(id);
        check(s.handle(bytes({ type: "puback", packetId: id, reasonCode: 0 }), now++));
      } else if (r >= 0.9) {
        s.handle({ type: "closed" }, now++);
        s.handle({ type: "open" }, now++);
        check(s.handle(bytes(CONNACK({}, true)), now++));
      }
      const held = s.snapshot().outgoing.map((o) => [o.packet.packetId, new TextDecoder().decode(o.packet.payload)]);
      expect(held.filter(([id]) => expected.has(id as number))).toEqual(held.filter(([id]) => expected.has(id as number)).map(([id]) => [id, expected.get(id as number)]));
    }
  });

  test("QoS 0 sent now is not kept, and its bytes are on the wire as given", () => {
    const { s } = connected();
    const scratch = text("zero");
    const actions = s.handle(borrowed(scratch, 0, 1), 1);
    reuse(scratch);
    expect(new TextDecoder().decode((wire(actions)[0] as PublishPacket).payload)).toBe("zero");
    expect(s.inflightCount + s.queuedCount).toBe(0);
  });
});

describe("the action list", () => {
  test("a call with nothing to do returns one shared, frozen empty list; a call with actions returns its own", () => {
    const { s } = connected({ keepAlive: 60 });
    const idle1 = s.handle({ type: "timer" }, 1);
    const idle2 = s.handle({ type: "timer" }, 2);
    expect(idle1).toEqual([]);
    expect(idle2).toBe(idle1);
    expect(Object.isFrozen(idle1)).toBe(true);
    const a = s.handle(pub("a", 1), 3);
    const b = s.handle(pub("a", 1), 4);
    expect(a).not.toBe(b);
    expect(kinds(a)).toEqual(["publish"]);
    expect(kinds(b)).toEqual(["publish"]);
  });
});

describe("the offline queue", () => {
  test("publishes made while disconnected are sent in order once connected", () => {
    const s = new MqttSession({ clientId: "t" });
    s.handle(pub("a", 0, "1"), 0);
    s.handle(pub("a", 1, "2"), 0);
    expect(s.queuedCount).toBe(2);
    s.handle({ type: "open" }, 1);
    const actions = s.handle(bytes(CONNACK()), 2);
    expect(kinds(actions)).toEqual(["connected", "publish", "published", "publish"]);
  });

  test("when full, the oldest QoS 0 message is dropped to make room", () => {
    const s = new MqttSession({ clientId: "t", queueMaxMessages: 2 });
    s.handle(pub("a", 0, "old"), 0);
    s.handle(pub("a", 1, "keep"), 0);
    const actions = s.handle(pub("a", 1, "new"), 0);
    expect(actions).toEqual([{ type: "failed", ref: "a:old", error: { code: "dropped", message: "dropped from a full queue" } }]);
    expect(s.queuedCount).toBe(2);
  });

  test("when full of QoS 1/2, or with the reject policy, the new message is refused", () => {
    const s = new MqttSession({ clientId: "t", queueMaxMessages: 1 });
    s.handle(pub("a", 1, "1"), 0);
    expect(s.handle(pub("a", 0, "2"), 0)).toEqual([{ type: "failed", ref: "a:2", error: { code: "queue-full" } }]);
    const r = new MqttSession({ clientId: "t", queueMaxMessages: 1, queuePolicy: "reject" });
    r.handle(pub("a", 0, "1"), 0);
    expect(r.handle(pub("a", 0, "2"), 0)).toEqual([{ type: "failed", ref: "a:2", error: { code: "queue-full" } }]);
  });

  test("the byte bound counts topic and payload", () => {
    const s = new MqttSession({ clientId: "t", queueMaxBytes: 100 });
    s.handle({ type: "publish", message: { topic: "a", payload: new Uint8Array(60), qos: 1 }, ref: 1 }, 0);
    expect(s.handle({ type: "publish", message: { topic: "a", payload: new Uint8Array(60), qos: 1 }, ref: 2 }, 0)).toEqual([
      { type: "failed", ref: 2, error: { code: "queue-full" } },
    ]);
    expect(s.handle({ type: "publish", message: { topic: "a", payload: new Uint8Array(30), qos: 1 }, ref: 3 }, 0)).toEqual([{ type: "persist" }].slice(0, 0));
  });
});

describe("faults from the server", () => {
  test("a malformed packet: v5 sends DISCONNECT 0x81 and closes", () => {
    const { s } = connected();
    // a PUBACK whose property length runs past its end, in two pieces
    const actions = s.handle({ type: "bytes", data: Uint8Array.of(0x40, 0x04, 0x00) }, 1);
    const more = s.handle({ type: "bytes", data: Uint8Array.of(0x01, 0x00, 0x09) }, 1);
    expect(actions).toEqual([]);
    expect(wire(more)).toEqual([{ type: "disconnect", reasonCode: 0x81 }]);
    expect(more.at(-1)).toMatchObject({ type: "close", reason: { code: "malformed-packet", reasonCode: 0x81 } });
  });

  test("a malformed packet: 3.1.1 just closes", () => {
    const { s } = connected({ protocolVersion: 4 });
    const actions = s.handle({ type: "bytes", data: Uint8Array.of(0x32, 0x03, 0x00, 0x01, 0x61) }, 1); // QoS 1 without packet id
    expect(kinds(actions)).toEqual(["close"]);
    expect(actions[0]).toMatchObject({ reason: { code: "malformed-packet" } });
  });

  test("a packet over our maximum packet size closes with 0x95", () => {
    const { s } = connected({ maxPacketSize: 128 });
    const big: MqttPacket = { type: "publish", topic: "a", payload: new Uint8Array(200), qos: 0, retain: false, dup: false };
    const actions = s.handle(bytes(big), 1);
    expect(wire(actions)).toEqual([{ type: "disconnect", reasonCode: 0x95 }]);
  });

  test("a server DISCONNECT closes with its reason and reference", () => {
    const { s } = connected();
    const actions = s.handle(bytes({ type: "disconnect", reasonCode: 0x9c, properties: { serverReference: "other:1883", reasonString: "move" } }), 1);
    expect(actions).toEqual([{ type: "close", reason: { code: "server-disconnect", reasonCode: 0x9c, message: "move", serverReference: "other:1883" } }]);
    expect(s.state).toBe("disconnected");
  });
});

describe("enhanced authentication (v5 §4.12)", () => {
  test("an AUTH challenge goes to the app, its answer goes back as AUTH, then CONNACK", () => {
    const s = new MqttSession({ clientId: "t", authenticationMethod: "SCRAM", authenticationData: text("first") });
    const [connect] = wire(s.handle({ type: "open" }, 0));
    expect(connect).toMatchObject({ properties: { authenticationMethod: "SCRAM", authenticationData: text("first") } });
    const challenge = s.handle(bytes({ type: "auth", reasonCode: 0x18, properties: { authenticationMethod: "SCRAM", authenticationData: text("c1") } }), 1);
    expect(kinds(challenge)).toEqual(["auth"]);
    const reply = s.handle({ type: "auth", reasonCode: 0x18, data: text("r1") }, 2);
    expect(wire(reply)).toEqual([{ type: "auth", reasonCode: 0x18, properties: { authenticationMethod: "SCRAM", authenticationData: text("r1") } }]);
    expect(kinds(s.handle(bytes(CONNACK({ authenticationMethod: "SCRAM" })), 3))).toEqual(["connected"]);
  });

  test("AUTH with another method is a protocol error", () => {
    const s = new MqttSession({ clientId: "t", authenticationMethod: "SCRAM" });
    s.handle({ type: "open" }, 0);
    const a = s.handle(bytes({ type: "auth", reasonCode: 0x18, properties: { authenticationMethod: "OTHER" } }), 1);
    expect(wire(a)).toEqual([{ type: "disconnect", reasonCode: 0x82 }]);
  });
});

describe("subscriptions", () => {
  test("subscribe sends options and resolves at SUBACK with the granted QoS", () => {
    const { s } = connected();
    const [p] = wire(s.handle({ type: "subscribe", subscriptions: [{ filter: "a/+", qos: 2, noLocal: true, retainHandling: 2 }], properties: { subscriptionIdentifiers: [5] }, ref: "r" }, 1));
    expect(p).toMatchObject({ type: "subscribe", subscriptions: [{ filter: "a/+", qos: 2, noLocal: true, retainAsPublished: false, retainHandling: 2 }], properties: { subscriptionIdentifiers: [5] } });
    expect(s.handle(bytes({ type: "suback", packetId: (p as { packetId: number }).packetId, reasonCodes: [1] }), 2)).toEqual([{ type: "subscribed", ref: "r", reasonCodes: [1] }]);
  });

  test("unsubscribe resolves at UNSUBACK with the reason codes", () => {
    const { s } = connected();
    const [p] = wire(s.handle({ type: "unsubscribe", filters: ["a/+"], ref: "u" }, 1));
    expect(s.handle(bytes({ type: "unsuback", packetId: (p as { packetId: number }).packetId, reasonCodes: [0x11] }), 2)).toEqual([{ type: "unsubscribed", ref: "u", reasonCodes: [0x11] }]);
  });

  test("a subscribe made offline goes out after CONNACK; a bad filter throws", () => {
    const s = new MqttSession({ clientId: "t" });
    expect(s.handle({ type: "subscribe", subscriptions: [{ filter: "x", qos: 0 }], ref: 1 }, 0)).toEqual([]);
    s.handle({ type: "open" }, 1);
    expect(kinds(s.handle(bytes(CONNACK()), 2))).toEqual(["connected", "subscribe"]);
    expect(() => s.handle({ type: "subscribe", subscriptions: [{ filter: "a/#/b", qos: 0 }] }, 3)).toThrow(/invalid-filter/);
  });

  test("the subscription table is bounded", () => {
    const { s } = connected({ maxSubscriptions: 2 });
    s.handle({ type: "subscribe", subscriptions: [{ filter: "a", qos: 0 }, { filter: "b", qos: 0 }] }, 1);
    expect(() => s.handle({ type: "subscribe", subscriptions: [{ filter: "c", qos: 0 }] }, 2)).toThrow(/too-many-subscriptions/);
  });
});

describe("ending", () => {
  test("a graceful end waits for in-flight messages, then sends DISCONNECT", () => {
    const { s } = connected();
    s.handle(pub("a", 1), 1);
    expect(s.handle({ type: "end" }, 2)).toEqual([]);
    expect(s.state).toBe("ending");
    expect(() => s.handle(pub("a", 0), 3)).toThrow(/ended/);
    const done = s.handle(bytes({ type: "puback", packetId: 1, reasonCode: 0 }), 4);
    expect(kinds(done)).toEqual(["published", "disconnect", "close"]);
    expect(s.state).toBe("ended");
  });

  test("a forced end abandons in-flight messages at once", () => {
    const { s } = connected();
    s.handle(pub("a", 1), 1);
    const done = s.handle({ type: "end", force: true }, 2);
    expect(kinds(done)).toEqual(["disconnect", "failed", "close"]);
    expect(done[1]).toEqual({ type: "failed", ref: "a:x", error: { code: "ended" } });
  });

  test("a graceful end gives up after endTimeoutMs", () => {
    const { s } = connected({ endTimeoutMs: 1000 });
    s.handle(pub("a", 1), 1);
    s.handle({ type: "end" }, 2);
    expect(s.nextDeadline()).toBe(1002);
    expect(kinds(s.handle({ type: "timer" }, 1002))).toEqual(["disconnect", "failed", "close"]);
  });
});

describe("snapshot and restore", () => {
  test("a restored session resends what the old one had in flight, and remembers incoming QoS 2 ids", () => {
    const { s } = connected({ clean: false });
    s.handle(pub("a", 1, "one"), 1);
    s.handle(pub("b", 2, "two"), 2);
    s.handle(bytes({ type: "pubrec", packetId: 2, reasonCode: 0 }), 3);
    s.handle(bytes({ type: "publish", topic: "in", payload: text("q2"), qos: 2, retain: false, dup: false, packetId: 40 }), 4);
    const snap = s.snapshot();
    expect(snap.incoming).toEqual([40]);

    const fresh = new MqttSession({ clientId: "t", clean: false });
    fresh.restore(snap);
    fresh.handle({ type: "open" }, 0);
    const out = wire(fresh.handle(bytes(CONNACK({}, true)), 1));
    expect(out).toEqual([
      { type: "publish", topic: "a", payload: text("one"), qos: 1, retain: false, dup: true, packetId: 1 },
      { type: "pubrel", packetId: 2, reasonCode: 0 },
    ]);
    // the server resends the QoS 2 message it has no PUBCOMP for: not delivered twice
    const again = fresh.handle(bytes({ type: "publish", topic: "in", payload: text("q2"), qos: 2, retain: false, dup: true, packetId: 40 }), 2);
    expect(kinds(again)).toEqual(["pubrec"]);
  });

  test("a persistent session asks to be persisted when its state changes", () => {
    const { s } = connected({ clean: false });
    expect(kinds(s.handle(pub("a", 1), 1))).toEqual(["publish", "persist"]);
    expect(kinds(s.handle(pub("a", 0), 2))).toEqual(["publish", "published"]);
  });

  test("a completed QoS 1 message is not saved on its own: one flash write per message, not two", () => {
    const { s } = connected({ clean: false });
    expect(kinds(s.handle(pub("a", 1), 1))).toEqual(["publish", "persist"]);
    expect(kinds(s.handle(bytes({ type: "puback", packetId: 1, reasonCode: 0 }), 2))).toEqual(["published"]);
    // the next change saves a session without it
    expect(kinds(s.handle(pub("b", 1), 3))).toEqual(["publish", "persist"]);
    expect(s.snapshot().outgoing.map((m) => m.packet.topic)).toEqual(["b"]);
  });

  test("after a reboot a QoS 2 PUBREL answered with PUBCOMP 0x92 (id not found) completes the message (MQTT 5 §3.7.2.1)", () => {
    const { s } = connected({ clean: false });
    s.handle(pub("q2", 2), 1);
    s.handle(bytes({ type: "pubrec", packetId: 1, reasonCode: 0 }), 2);
    expect(kinds(s.handle(bytes({ type: "pubcomp", packetId: 1, reasonCode: 0x92 }), 3))).toEqual(["published"]);
    expect(s.inflightCount).toBe(0);
  });
});
