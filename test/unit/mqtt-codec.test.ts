import { describe, expect, test } from "vitest";
import mqttPacket from "mqtt-packet";
import { ClientDecoder, MqttDecoder, decodePacket, encodePacket, packetSize } from "../../src/mqtt/codec.js";
import { MqttProtocolError } from "../../src/mqtt/errors.js";
import { MoteError } from "../../src/errors.js";
import type { MqttPacket, ProtocolVersion } from "../../src/mqtt/packets.js";
import { Gen, PACKET_TYPES, canon, prng, randomPacket, toPeer } from "./mqtt-codec-helpers.js";

const ROUNDS = 40;

function peerParse(bytes: Uint8Array, v: ProtocolVersion): unknown[] {
  const parser = mqttPacket.parser({ protocolVersion: v });
  const out: unknown[] = [];
  const errors: Error[] = [];
  parser.on("packet", (p: unknown) => out.push(p));
  parser.on("error", (e: Error) => errors.push(e));
  parser.parse(Buffer.from(bytes));
  if (errors.length) throw errors[0];
  return out;
}

/** mqtt-packet's parser sets dup/qos/retain on every packet; they only mean something on PUBLISH. */
function peerClean(p: Record<string, unknown>): Record<string, unknown> {
  if (p.cmd === "publish") return p;
  const { dup: _d, qos: _q, retain: _r, ...rest } = p;
  return rest;
}

function peerGenerate(p: MqttPacket, v: ProtocolVersion): Uint8Array {
  return new Uint8Array(mqttPacket.generate(buffers(toPeer(p, v)) as never, { protocolVersion: v }));
}

/** mqtt-packet writes Buffers only. */
function buffers(x: unknown): unknown {
  if (x instanceof Uint8Array) return Buffer.from(x);
  if (Array.isArray(x)) return x.map(buffers);
  if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, buffers(v)]));
  return x;
}

function decodeAll(bytes: Uint8Array, v: ProtocolVersion): MqttPacket[] {
  const d = new MqttDecoder({ version: v, maxPacketSize: 1 << 20 });
  d.push(bytes);
  const out: MqttPacket[] = [];
  for (let i = 0; i < 100; i++) {
    const r = d.next();
    if (r === undefined) break;
    if (r instanceof MqttProtocolError) throw r;
    out.push(r);
  }
  return out;
}

function expectFault(bytes: number[] | Uint8Array, v: ProtocolVersion, reasonCode: number, maxPacketSize = 1 << 20): MqttProtocolError {
  const d = new MqttDecoder({ version: v, maxPacketSize });
  d.push(Uint8Array.from(bytes));
  const r = d.next();
  expect(r).toBeInstanceOf(MqttProtocolError);
  expect((r as MqttProtocolError).reasonCode).toBe(reasonCode);
  expect(d.next()).toBe(r); // stays failed
  return r as MqttProtocolError;
}

describe("the MQTT codec agrees with mqtt-packet", () => {
  for (const v of [4, 5] as const) {
    for (const type of PACKET_TYPES) {
      if (type === "auth" && v === 4) continue;
      test(`v${v} ${type}: our bytes parse there to the same packet, and its bytes decode here to the same packet`, () => {
        const g = new Gen(prng(v * 1000 + PACKET_TYPES.indexOf(type)));
        for (let i = 0; i < ROUNDS; i++) {
          const p = randomPacket(g, type, v);
          const ours = encodePacket(p, v);
          expect(ours.length).toBe(packetSize(p, v));
          // ours -> peer
          const parsed = peerParse(ours, v);
          expect(parsed.length).toBe(1);
          expect(canon(peerClean(parsed[0] as Record<string, unknown>))).toEqual(canon(toPeer(p, v)));
          // peer -> ours
          const theirs = peerGenerate(p, v);
          const decoded = decodeAll(theirs, v);
          expect(decoded.length).toBe(1);
          expect(canon(toPeer(decoded[0], v))).toEqual(canon(toPeer(p, v)));
          // ours -> ours is exact, field by field
          expect(canon(decodeAll(ours, v)[0])).toEqual(canon(p));
        }
      });
    }
  }
});

describe("the streaming decoder", () => {
  const g = new Gen(prng(7));
  const packets: MqttPacket[] = [];
  for (const type of PACKET_TYPES) for (let i = 0; i < 3; i++) packets.push(randomPacket(g, type, 5));
  const stream = concat(packets.map((p) => encodePacket(p, 5)));

  test("decodes a stream fed one byte at a time", () => {
    const d = new MqttDecoder({ version: 5, maxPacketSize: 4096 });
    const out: MqttPacket[] = [];
    for (let i = 0; i < stream.length; i++) {
      d.push(stream.subarray(i, i + 1));
      for (;;) {
        const r = d.next();
        if (r === undefined) break;
        if (r instanceof MqttProtocolError) throw r;
        out.push(r);
      }
    }
    expect(canon(out)).toEqual(canon(packets));
    expect(d.buffered).toBe(0);
  });

  test("decodes a long stream whose every piece ends inside a packet (the held pieces move to the front)", () => {
    const d = new MqttDecoder({ version: 4 });
    const acks = concat(Array.from({ length: 1000 }, (_, i) => encodePacket({ type: "puback", packetId: i + 1, reasonCode: 0 }, 4)));
    const ids: number[] = [];
    for (let i = 0; i < acks.length; i += 3) {
      d.push(acks.subarray(i, i + 3)); // 4-byte packets in 3-byte pieces
      for (let r = d.next(); r !== undefined; r = d.next()) {
        if (r instanceof MqttProtocolError || r.type !== "puback") throw new Error(`unexpected ${String(r)}`);
        ids.push(r.packetId);
      }
    }
    expect(ids).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(d.buffered).toBe(0);
  });

  test("decodes a stream cut at random points, several packets per piece", () => {
    const rnd = prng(99);
    for (let round = 0; round < 20; round++) {
      const d = new MqttDecoder({ version: 5, maxPacketSize: 4096 });
      const out: MqttPacket[] = [];
      let i = 0;
      while (i < stream.length) {
        const n = 1 + Math.floor(rnd() * 600);
        d.push(stream.slice(i, i + n));
        i += n;
        for (let r = d.next(); r !== undefined; r = d.next()) {
          if (r instanceof MqttProtocolError) throw r;
          out.push(r);
        }
      }
      expect(canon(out)).toEqual(canon(packets));
    }
  });

  test("a PUBLISH decoded from one piece keeps its payload as a view, not a copy", () => {
    const bytes = encodePacket({ type: "publish", topic: "t", payload: Uint8Array.of(1, 2, 3), qos: 0, retain: false, dup: false }, 5);
    const d = new MqttDecoder();
    d.push(bytes);
    const p = d.next() as MqttPacket & { type: "publish" };
    expect(p.payload.buffer).toBe(bytes.buffer);
    expect(Array.from(p.payload)).toEqual([1, 2, 3]);
  });

  test("every strict prefix of a packet asks for more bytes rather than failing", () => {
    for (const p of packets) {
      const bytes = encodePacket(p, 5);
      for (let n = 0; n < bytes.length; n++) {
        expect(decodePacket(bytes.subarray(0, n), 5)).toBeUndefined();
      }
    }
  });

  test("a packet whose remaining length is cut short inside a field is a typed error", () => {
    let faults = 0;
    for (const p of packets) {
      const bytes = encodePacket(p, 5);
      const rem = bytes.length - 2;
      if (bytes.length > 129 || rem < 1) continue; // one-byte length form only
      const cut = Uint8Array.from(bytes.subarray(0, bytes.length - 1));
      cut[1] = rem - 1;
      try {
        decodePacket(cut, 5);
      } catch (e) {
        expect(e).toBeInstanceOf(MqttProtocolError);
        faults++;
      }
    }
    expect(faults).toBeGreaterThan(10);
  });

  test("randomly corrupted packets give a packet or an MqttProtocolError, never another exception", () => {
    const rnd = prng(5);
    let faults = 0;
    for (let round = 0; round < 3000; round++) {
      const bytes = Uint8Array.from(encodePacket(packets[round % packets.length], 5));
      const flips = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < flips; k++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
      const d = new MqttDecoder({ version: 5, maxPacketSize: 8192 });
      d.push(bytes);
      for (let i = 0; i < 10; i++) {
        const r = d.next();
        if (r === undefined) break;
        if (r instanceof MqttProtocolError) {
          faults++;
          expect([0x81, 0x82, 0x84, 0x90, 0x95]).toContain(r.reasonCode);
          break;
        }
      }
    }
    expect(faults).toBeGreaterThan(500);
  });
});

describe("the session's ClientDecoder", () => {
  test("fills one acknowledgement object again for each PUBACK / PUBREC / PUBCOMP; a PUBLISH is its own", () => {
    const d = new ClientDecoder({ version: 5 });
    const reason = { type: "puback" as const, packetId: 7, reasonCode: 0x10, properties: { reasonString: "no subscribers" } };
    d.push(new Uint8Array([...encodePacket({ type: "puback", packetId: 1, reasonCode: 0 }, 5), ...encodePacket(reason, 5), ...encodePacket({ type: "pubrec", packetId: 9, reasonCode: 0 }, 5)]));
    const first = d.next();
    expect(first).toMatchObject({ type: "puback", packetId: 1, reasonCode: 0 });
    const second = d.next();
    expect(second).toBe(first);
    expect(second).toEqual({ ...reason });
    const third = d.next();
    expect(third).toBe(first);
    expect(third).toEqual({ type: "pubrec", packetId: 9, reasonCode: 0, properties: undefined });
    d.push(encodePacket({ type: "publish", topic: "t", payload: new Uint8Array([1]), qos: 1, packetId: 2, retain: false, dup: false }, 5));
    expect(d.next()).not.toBe(first);
    // the general decoder (tools, a broker) makes a new object for each
    const g = new MqttDecoder({ version: 5 });
    g.push(new Uint8Array([...encodePacket({ type: "puback", packetId: 1, reasonCode: 0 }, 5), ...encodePacket({ type: "puback", packetId: 2, reasonCode: 0 }, 5)]));
    expect(g.next()).not.toBe(g.next());
  });
});

describe("the decoder refuses out-of-rule bytes with the v5 reason code", () => {
  test("a remaining length of five bytes is malformed (0x81)", () => {
    expectFault([0x30, 0xff, 0xff, 0xff, 0xff, 0x01], 5, 0x81);
  });
  test("a packet over the maximum packet size is refused as soon as its header is read (0x95)", () => {
    const e = expectFault([0x30, 0x80, 0x08], 5, 0x95, 1024);
    expect(e.code).toBe("packet-too-large");
  });
  test("reserved fixed-header flags are malformed", () => {
    expectFault([0x41, 0x02, 0x00, 0x01], 5, 0x81); // PUBACK with flags 0001
    expectFault([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00], 4, 0x81); // SUBSCRIBE with flags 0000
  });
  test("PUBLISH with QoS 3 or DUP on QoS 0 is malformed", () => {
    expectFault([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01], 4, 0x81);
    expectFault([0x38, 0x03, 0x00, 0x01, 0x61], 4, 0x81);
  });
  test("a wildcard in a PUBLISH topic name is 'topic name invalid' (0x90)", () => {
    expectFault([0x30, 0x04, 0x00, 0x02, 0x61, 0x2b], 4, 0x90);
  });
  test("U+0000 and encoded surrogates in strings are malformed (§1.5.4)", () => {
    expectFault([0x30, 0x04, 0x00, 0x02, 0x61, 0x00], 4, 0x81);
    expectFault([0x30, 0x05, 0x00, 0x03, 0xed, 0xa0, 0x80], 4, 0x81);
  });
  test("packet identifier 0 is a protocol error (0x82)", () => {
    expectFault([0x40, 0x02, 0x00, 0x00], 5, 0x82);
  });
  test("a property given twice is a protocol error, one not allowed in the packet is malformed", () => {
    // PUBACK id 1, reason 0, props: reason string twice
    expectFault([0x40, 0x0a, 0x00, 0x01, 0x00, 0x06, 0x1f, 0x00, 0x00, 0x1f, 0x00, 0x00], 5, 0x82);
    // PUBACK with a Topic Alias property
    expectFault([0x40, 0x07, 0x00, 0x01, 0x00, 0x03, 0x23, 0x00, 0x01], 5, 0x81);
    // unknown property 0x7f
    expectFault([0x40, 0x06, 0x00, 0x01, 0x00, 0x02, 0x7f, 0x00], 5, 0x81);
  });
  test("a v5 CONNECT may carry a password without a user name (§3.1.2.9)", () => {
    const p: MqttPacket = { type: "connect", protocolVersion: 5, clientId: "c", clean: true, keepAlive: 30, password: Uint8Array.of(1, 2) };
    expect(canon(decodePacket(encodePacket(p, 5), 5)!.packet)).toEqual(canon(p));
  });
  test("user properties and PUBLISH subscription identifiers may repeat", () => {
    const p: MqttPacket = {
      type: "publish", topic: "a", payload: new Uint8Array(0), qos: 0, retain: false, dup: false,
      properties: { subscriptionIdentifiers: [1, 300], userProperties: [["k", "1"], ["k", "2"]] },
    };
    expect(canon(decodePacket(encodePacket(p, 5), 5)!.packet)).toEqual(canon(p));
  });
  test("a property length past the packet end is malformed", () => {
    expectFault([0x40, 0x04, 0x00, 0x01, 0x00, 0x09], 5, 0x81);
  });
  test("Receive Maximum 0 and a boolean property of 2 are protocol errors", () => {
    expectFault([0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00], 5, 0x82);
    expectFault([0x20, 0x05, 0x00, 0x00, 0x02, 0x25, 0x02], 5, 0x82);
  });
  test("AUTH does not exist in 3.1.1 and type 0 does not exist at all", () => {
    expectFault([0xf0, 0x00], 4, 0x81);
    expectFault([0x00, 0x00], 5, 0x81);
  });
  test("bytes left over after a packet's fields are malformed", () => {
    expectFault([0xd0, 0x01, 0x00], 4, 0x81); // PINGRESP with a body
    expectFault([0x40, 0x03, 0x00, 0x01, 0x00], 4, 0x81); // 3.1.1 PUBACK with a reason code
  });
  test("a CONNECT with another protocol name is 'unsupported protocol version' (0x84)", () => {
    expectFault([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x03, 0x02, 0x00, 0x3c, 0x00, 0x00], 4, 0x84);
  });
});

describe("the encoder", () => {
  test("writes into a caller's buffer at an offset and returns the written view", () => {
    const out = new Uint8Array(64);
    const view = encodePacket({ type: "pingreq" }, 4, out, 10);
    expect(Array.from(view)).toEqual([0xc0, 0x00]);
    expect(view.byteOffset).toBe(10);
    expect(view.buffer).toBe(out.buffer);
  });
  test("refuses a buffer that is too small with MoteError 'overflow'", () => {
    const p: MqttPacket = { type: "publish", topic: "abc", payload: new Uint8Array(100), qos: 0, retain: false, dup: false };
    expect(() => encodePacket(p, 4, new Uint8Array(50))).toThrow(MoteError);
    try {
      encodePacket(p, 4, new Uint8Array(50));
    } catch (e) {
      expect((e as MoteError).code).toBe("overflow");
    }
  });
  test("refuses misuse: packet id 0 on QoS 1, a 3.1.1 password without user name, AUTH in 3.1.1", () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as MoteError).code;
      }
      return "none";
    };
    expect(codeOf(() => encodePacket({ type: "publish", topic: "a", payload: new Uint8Array(0), qos: 1, retain: false, dup: false, packetId: 0 }, 4))).toBe("invalid-packet-id");
    expect(codeOf(() => encodePacket({ type: "connect", protocolVersion: 4, clientId: "x", clean: true, keepAlive: 0, password: new Uint8Array(1) }, 4))).toBe("invalid-connect");
    expect(codeOf(() => encodePacket({ type: "auth", reasonCode: 0 }, 4))).toBe("invalid-packet");
    expect(codeOf(() => encodePacket({ type: "publish", topic: "x".repeat(70000), payload: new Uint8Array(0), qos: 0, retain: false, dup: false }, 4))).toBe("string-too-long");
  });
  test("uses the 2, 3 and 4 byte remaining-length forms at their boundaries (§1.5.5)", () => {
    for (const [size, header] of [[127, 2], [128, 3], [16383, 3], [16384, 4], [2097151, 4], [2097152, 5]] as const) {
      const payload = new Uint8Array(size - 3); // topic "a" = 3 bytes
      const bytes = encodePacket({ type: "publish", topic: "a", payload, qos: 0, retain: false, dup: false }, 4);
      expect(bytes.length - size).toBe(header);
      const d = decodePacket(bytes, 4)!;
      expect(d.used).toBe(bytes.length);
    }
  });
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A v4 QoS 0 PUBLISH whose topic name is `topic` (bytes) and payload "x". */
function publishWithTopic(topic: number[]): Uint8Array {
  const rem = 2 + topic.length + 1;
  const length = rem < 128 ? [rem] : [(rem & 0x7f) | 0x80, rem >> 7]; // §1.5.5
  return Uint8Array.of(0x30, ...length, topic.length >> 8, topic.length & 0xff, ...topic, 0x78);
}

describe("topic names on the fast paths (plain ASCII decode, cached encode bytes)", () => {
  const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
  test("plain, non-ASCII and long topic names decode as the general UTF-8 path does", () => {
    for (const [bytes, topic] of [
      [ascii("a/b"), "a/b"],
      [ascii("~\x7f!"), "~\x7f!"],
      [[0xc3, 0xa9, 0x2f, 0x61], "é/a"],
      [ascii("t".repeat(129)), "t".repeat(129)], // longer than the fast path takes
    ] as const) {
      const d = decodePacket(publishWithTopic([...bytes]), 4)!.packet;
      expect(d).toMatchObject({ type: "publish", topic, payload: Uint8Array.of(0x78) });
    }
  });
  test("wildcards, U+0000, bad UTF-8 and surrogates are refused with their codes whatever the path", () => {
    expectFault([...publishWithTopic(ascii("a+"))], 4, 0x90);
    expectFault([...publishWithTopic(ascii("#"))], 4, 0x90);
    expectFault([...publishWithTopic([0x61, 0x00])], 4, 0x81);
    expectFault([...publishWithTopic([0x61, 0xff])], 4, 0x81);
    expectFault([...publishWithTopic([0xed, 0xa0, 0x80])], 4, 0x81);
  });
  test("more topics than the encoder caches, each twice, and a non-ASCII one: every PUBLISH carries its own topic", () => {
    const topics = ["t/0", "t/1", "t/2", "t/3", "t/4", "t/5", "température", "x".repeat(200)];
    for (let round = 0; round < 2; round++) {
      for (const topic of topics) {
        const p: MqttPacket = { type: "publish", topic, payload: Uint8Array.of(1), qos: 1, retain: false, dup: false, packetId: 7 };
        const bytes = encodePacket(p, 4);
        expect(bytes.length).toBe(packetSize(p, 4));
        expect(canon(decodePacket(bytes, 4)!.packet)).toEqual(canon(p));
        const peer: string[] = [];
        const parser = mqttPacket.parser({ protocolVersion: 4 });
        parser.on("packet", (q) => peer.push((q as { topic: string }).topic));
        parser.parse(Buffer.from(bytes));
        expect(peer).toEqual([topic]);
      }
    }
  });
});
