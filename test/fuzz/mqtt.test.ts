import { expect, test } from "vitest";
import { MqttDecoder, encodePacket } from "../../src/mqtt/codec.js";
import { MqttProtocolError } from "../../src/mqtt/errors.js";
import { MqttSession } from "../../src/mqtt/session.js";
import { Gen, PACKET_TYPES, prng, randomPacket } from "../unit/mqtt-codec-helpers.js";

const ROUNDS = 4000;

test("random bytes into the decoder give packets, need-more or MqttProtocolError — never another exception or a hang", () => {
  const rnd = prng(1234);
  for (const v of [4, 5] as const) {
    for (let round = 0; round < ROUNDS; round++) {
      const n = Math.floor(rnd() * 64);
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = Math.floor(rnd() * 256);
      const d = new MqttDecoder({ version: v, maxPacketSize: 1024 });
      d.push(bytes);
      let steps = 0;
      for (let r = d.next(); r !== undefined && steps < 100; r = d.next(), steps++) {
        if (r instanceof MqttProtocolError) break;
        expect(typeof r.type).toBe("string");
      }
      expect(steps).toBeLessThan(100);
    }
  }
});

test("mutated valid packets (bit flips, insertions, deletions) never crash the decoder", () => {
  const rnd = prng(42);
  const g = new Gen(rnd);
  for (let round = 0; round < ROUNDS; round++) {
    const v = round % 2 ? 5 : 4;
    const type = PACKET_TYPES[round % PACKET_TYPES.length];
    if (type === "auth" && v === 4) continue;
    const bytes = Array.from(encodePacket(randomPacket(g, type, v), v));
    const op = Math.floor(rnd() * 3);
    const at = Math.floor(rnd() * bytes.length);
    if (op === 0) bytes[at] ^= 1 << Math.floor(rnd() * 8);
    else if (op === 1) bytes.splice(at, 0, Math.floor(rnd() * 256));
    else bytes.splice(at, 1);
    const d = new MqttDecoder({ version: v, maxPacketSize: 4096 });
    d.push(Uint8Array.from(bytes));
    for (let i = 0, r = d.next(); r !== undefined && i < 10; i++, r = d.next()) {
      if (r instanceof MqttProtocolError) break;
    }
  }
});

test("a connected session fed random server bytes ends in a typed close or keeps going, never throws", () => {
  const rnd = prng(77);
  let closes = 0;
  for (let round = 0; round < 1000; round++) {
    const s = new MqttSession({ clientId: "f", protocolVersion: round % 2 ? 5 : 4 });
    s.handle({ type: "open" }, 0);
    s.handle({ type: "bytes", data: Uint8Array.of(0x20, 0x02, 0x00, 0x00) }, 0);
    const n = 1 + Math.floor(rnd() * 40);
    const junk = new Uint8Array(n);
    for (let i = 0; i < n; i++) junk[i] = Math.floor(rnd() * 256);
    const actions = s.handle({ type: "bytes", data: junk }, 1);
    const close = actions.find((a) => a.type === "close");
    if (close) {
      closes++;
      expect(s.state).toBe("disconnected");
    }
  }
  expect(closes).toBeGreaterThan(200); // the rest are incomplete packets still waiting for bytes
});
