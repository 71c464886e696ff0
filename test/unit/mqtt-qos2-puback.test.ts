/**
 * A broker without QoS 2 (RabbitMQ 3.10's MQTT plugin) answers a QoS 2 PUBLISH
 * with PUBACK, as if it were QoS 1 (seen on the wire in test/cluster/cli.test.ts).
 * The session must not wait for a PUBREC that never comes: the publish fails
 * with qos-not-supported and says what the broker did; the message is not sent
 * again (the broker has it), and the window moves on.
 */
import { describe, expect, test } from "vitest";
import { MqttSession, type SessionAction } from "../../src/mqtt/session.js";
import { encodePacket } from "../../src/mqtt/codec.js";
import type { MqttPacket, PublishPacket } from "../../src/mqtt/packets.js";

const bytes = (p: MqttPacket) => ({ type: "bytes" as const, data: encodePacket(p, 4) });
const sent = (a: SessionAction[]) => a.flatMap((x) => (x.type === "send" ? [x.packet] : []));
const pub = (qos: 1 | 2, ref: string) => ({ type: "publish" as const, message: { topic: "t", payload: new TextEncoder().encode(ref), qos }, ref });

function connected(maxInflight = 10): MqttSession {
  const s = new MqttSession({ clientId: "c", protocolVersion: 4, maxInflight });
  s.handle({ type: "open" }, 0);
  s.handle(bytes({ type: "connack", sessionPresent: false, reasonCode: 0 }), 0);
  expect(s.state).toBe("connected");
  return s;
}

describe("PUBACK for a QoS 2 PUBLISH (a broker without QoS 2)", () => {
  test("fails the publish with qos-not-supported and what happened, instead of waiting for PUBREC", () => {
    const s = connected();
    const [p] = sent(s.handle(pub(2, "q2"), 1)) as PublishPacket[];
    expect(p.qos).toBe(2);
    const out = s.handle(bytes({ type: "puback", packetId: p.packetId!, reasonCode: 0 }), 2);
    expect(out).toEqual([
      { type: "failed", ref: "q2", error: { code: "qos-not-supported", message: "the broker answered the QoS 2 PUBLISH with PUBACK: it took the message at QoS 1 and has no QoS 2" } },
    ]);
    expect(s.inflightCount).toBe(0);
  });

  test("the freed window lets the next message out; a later PUBREC for that id is answered, not resent", () => {
    const s = connected(1);
    const [p] = sent(s.handle(pub(2, "a"), 1)) as PublishPacket[];
    expect(sent(s.handle(pub(1, "b"), 2))).toEqual([]); // window of 1: queued
    const out = s.handle(bytes({ type: "puback", packetId: p.packetId!, reasonCode: 0 }), 3);
    expect(out.map((a) => a.type)).toEqual(["failed", "send"]);
    expect((sent(out)[0] as PublishPacket).qos).toBe(1);
    // §4.3.3: an unknown PUBREC gets its PUBREL; nothing is published again
    expect(sent(s.handle(bytes({ type: "pubrec", packetId: p.packetId!, reasonCode: 0 }), 4)).map((x) => x.type)).toEqual(["pubrel"]);
  });

  test("a PUBACK for a QoS 2 message already released (PUBREC seen) is still ignored", () => {
    const s = connected();
    const [p] = sent(s.handle(pub(2, "r"), 1)) as PublishPacket[];
    s.handle(bytes({ type: "pubrec", packetId: p.packetId!, reasonCode: 0 }), 2);
    expect(s.handle(bytes({ type: "puback", packetId: p.packetId!, reasonCode: 0 }), 3)).toEqual([]);
    expect(s.inflightCount).toBe(1);
  });
});
