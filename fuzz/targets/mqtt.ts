/**
 * MQTT 3.1.1 and 5.0 packets into the codec (src/mqtt/codec.ts).
 *
 * Inputs: a byte stream for one protocol version, made of random bytes,
 * valid packets (structure-aware: every packet type, random fields, v5
 * properties), mutations of those (generic byte mutations, remaining
 * length pushed to the limit, property blocks with duplicated or foreign
 * properties re-framed so the decoder reaches them), cut into a random
 * chunking.
 *
 * Properties checked per input:
 * - one-shot `decodePacket` over the stream gives packets then need-more or
 *   an MqttProtocolError — never another exception;
 * - the streaming `MqttDecoder` fed the random chunking gives exactly the
 *   same packets and the same ending (chunking does not change meaning);
 * - `buffered` never exceeds the bytes pushed, and is 0 after an error;
 * - decoded payload bytes never exceed input bytes (no amplification);
 * - every decoded packet re-encodes (encodePacket) and decodes back to an
 *   equal packet (MQTT 5 §2 / 3.1.1 §2: one packet, one meaning);
 * - the client session's `ClientDecoder` (no CONNECT/SUBSCRIBE/UNSUBSCRIBE
 *   decoders) gives the same packets and ending, except that it refuses
 *   those three types, which only travel to a server, with an MqttProtocolError.
 */
import { ClientDecoder, DEFAULT_MAX_PACKET_SIZE, MqttDecoder, decodePacket, encodePacket } from "../../src/mqtt/codec.js";
import { MqttProtocolError } from "../../src/mqtt/errors.js";
import type { MqttPacket, Properties, ProtocolVersion, QoS, UserProperty } from "../../src/mqtt/packets.js";
import { FuzzFailure, assert, deepEqual, hex, showValue, type FuzzTarget, type Rng } from "../engine.js";
import { mutateBytes, randomBytes, randomChunking } from "../mutators.js";

export interface MqttInput {
  version: ProtocolVersion;
  bytes: Uint8Array;
  /** End offsets of the pieces pushed into the streaming decoder. */
  chunks: number[];
  maxPacketSize: number;
}

const TYPES_V5 = Object.freeze([
  "connect", "connack", "publish", "puback", "pubrec", "pubrel", "pubcomp", "subscribe", "suback",
  "unsubscribe", "unsuback", "pingreq", "pingresp", "disconnect", "auth",
] as const);
const TYPES_V4 = TYPES_V5.filter((t) => t !== "auth");

const WORDS = Object.freeze(["a", "b", "sensors", "temp", "é", "€", "😀", "$SYS", "x y", "0", ""]);

function text(rng: Rng, max = 12): string {
  let s = "";
  const n = rng.size(max);
  for (let i = 0; i < n; i++) s += rng.pick(WORDS);
  return s;
}
function topicName(rng: Rng): string {
  const levels = 1 + rng.size(4);
  const out: string[] = [];
  for (let i = 0; i < levels; i++) out.push(text(rng, 3));
  const t = out.join("/");
  return t.length === 0 ? "t" : t;
}
function topicFilter(rng: Rng): string {
  return rng.bool(0.3) ? rng.pick(["#", "+", "a/+/b", "a/#", "+/+", "$share/g/a/#"]) : topicName(rng);
}
function qos(rng: Rng): QoS {
  return rng.int(3) as QoS;
}
function id(rng: Rng): number {
  return rng.bool(0.2) ? rng.pick([1, 0xffff, 0x8000]) : rng.range(1, 0xffff);
}
function u32(rng: Rng): number {
  return rng.bool(0.3) ? rng.pick([0, 1, 0xffffffff, 0x7fffffff]) : rng.u32();
}
function userProps(rng: Rng): UserProperty[] {
  const out: UserProperty[] = [];
  const n = 1 + rng.size(3);
  for (let i = 0; i < n; i++) out.push([text(rng, 3), text(rng, 3)]);
  return out;
}

/** Valid v5 properties for a packet type (§2.2.2.2 table), each present sometimes. */
function props(rng: Rng, type: MqttPacket["type"] | "will"): Properties | undefined {
  if (rng.bool(0.4)) return undefined;
  const p: Properties = {};
  const maybe = (f: () => void) => {
    if (rng.bool(0.35)) f();
  };
  switch (type) {
    case "publish":
    case "will":
      maybe(() => (p.payloadFormatIndicator = rng.bool()));
      maybe(() => (p.messageExpiryInterval = u32(rng)));
      maybe(() => (p.contentType = text(rng)));
      maybe(() => (p.responseTopic = topicName(rng)));
      maybe(() => (p.correlationData = rng.bytes(rng.size(16))));
      if (type === "will") maybe(() => (p.willDelayInterval = u32(rng)));
      else {
        maybe(() => (p.topicAlias = rng.range(1, 0xffff)));
        maybe(() => (p.subscriptionIdentifiers = Array.from({ length: 1 + rng.size(3) }, () => rng.range(1, 268_435_455))));
      }
      break;
    case "connect":
      maybe(() => (p.sessionExpiryInterval = u32(rng)));
      maybe(() => (p.receiveMaximum = rng.range(1, 0xffff)));
      maybe(() => (p.maximumPacketSize = rng.range(1, 0xffffffff)));
      maybe(() => (p.topicAliasMaximum = rng.int(0x10000)));
      maybe(() => (p.requestResponseInformation = rng.bool()));
      maybe(() => (p.requestProblemInformation = rng.bool()));
      maybe(() => (p.authenticationMethod = text(rng)));
      maybe(() => (p.authenticationData = rng.bytes(rng.size(8))));
      break;
    case "connack":
      maybe(() => (p.sessionExpiryInterval = u32(rng)));
      maybe(() => (p.receiveMaximum = rng.range(1, 0xffff)));
      maybe(() => (p.maximumQoS = rng.int(2) as 0 | 1));
      maybe(() => (p.retainAvailable = rng.bool()));
      maybe(() => (p.maximumPacketSize = rng.range(1, 0xffffffff)));
      maybe(() => (p.assignedClientIdentifier = text(rng)));
      maybe(() => (p.topicAliasMaximum = rng.int(0x10000)));
      maybe(() => (p.reasonString = text(rng)));
      maybe(() => (p.wildcardSubscriptionAvailable = rng.bool()));
      maybe(() => (p.subscriptionIdentifiersAvailable = rng.bool()));
      maybe(() => (p.sharedSubscriptionAvailable = rng.bool()));
      maybe(() => (p.serverKeepAlive = rng.int(0x10000)));
      maybe(() => (p.responseInformation = text(rng)));
      maybe(() => (p.serverReference = text(rng)));
      maybe(() => (p.authenticationMethod = text(rng)));
      break;
    case "subscribe":
      maybe(() => (p.subscriptionIdentifiers = [rng.range(1, 268_435_455)]));
      break;
    case "disconnect":
      maybe(() => (p.sessionExpiryInterval = u32(rng)));
      maybe(() => (p.serverReference = text(rng)));
      maybe(() => (p.reasonString = text(rng)));
      break;
    case "auth":
      maybe(() => (p.authenticationMethod = text(rng)));
      maybe(() => (p.authenticationData = rng.bytes(rng.size(8))));
      maybe(() => (p.reasonString = text(rng)));
      break;
    default:
      maybe(() => (p.reasonString = text(rng)));
  }
  maybe(() => (p.userProperties = userProps(rng)));
  return Object.keys(p).length ? p : undefined;
}

/** A valid packet object of a random type for `v`. */
export function randomPacket(rng: Rng, v: ProtocolVersion): MqttPacket {
  const type = rng.pick(v === 5 ? TYPES_V5 : TYPES_V4);
  const withProps = <T extends MqttPacket>(p: T): T => {
    if (v === 5) {
      const pr = props(rng, p.type);
      if (pr && p.type !== "pingreq" && p.type !== "pingresp") (p as { properties?: Properties }).properties = pr;
    }
    return p;
  };
  switch (type) {
    case "connect": {
      const p: MqttPacket = { type, protocolVersion: v, clientId: text(rng), clean: rng.bool(), keepAlive: rng.int(0x10000) };
      if (rng.bool(0.4)) {
        p.will = { topic: topicName(rng), payload: rng.bytes(rng.size(32)), qos: qos(rng), retain: rng.bool() };
        if (v === 5) {
          const wp = props(rng, "will");
          if (wp) p.will.properties = wp;
        }
      }
      if (rng.bool(0.4)) p.username = text(rng);
      if (rng.bool(0.4) && (v === 5 || p.username !== undefined)) p.password = rng.bytes(rng.size(16));
      return withProps(p);
    }
    case "connack":
      return withProps({ type, sessionPresent: rng.bool(), reasonCode: v === 4 ? rng.int(6) : rng.pick([0, 0x80, 0x87, 0x95, 0x9c]) });
    case "publish": {
      const q = qos(rng);
      const p: MqttPacket = { type, topic: topicName(rng), payload: rng.bytes(rng.size(300)), qos: q, retain: rng.bool(), dup: q > 0 && rng.bool() };
      if (q > 0) p.packetId = id(rng);
      return withProps(p);
    }
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return withProps({ type, packetId: id(rng), reasonCode: v === 5 && rng.bool() ? rng.pick([0x10, 0x80, 0x87, 0x92]) : 0 });
    case "subscribe": {
      const subs = Array.from({ length: 1 + rng.size(4) }, () => {
        const s: { filter: string; qos: QoS; noLocal?: boolean; retainAsPublished?: boolean; retainHandling?: 0 | 1 | 2 } = { filter: topicFilter(rng), qos: qos(rng) };
        if (v === 5) {
          s.noLocal = rng.bool();
          s.retainAsPublished = rng.bool();
          s.retainHandling = rng.int(3) as 0 | 1 | 2;
        }
        return s;
      });
      return withProps({ type, packetId: id(rng), subscriptions: subs });
    }
    case "suback":
      return withProps({ type, packetId: id(rng), reasonCodes: Array.from({ length: 1 + rng.size(4) }, () => rng.pick(v === 4 ? [0, 1, 2, 0x80] : [0, 1, 2, 0x80, 0x87, 0x8f])) });
    case "unsubscribe":
      return withProps({ type, packetId: id(rng), filters: Array.from({ length: 1 + rng.size(4) }, () => topicFilter(rng)) });
    case "unsuback":
      return withProps({ type, packetId: id(rng), reasonCodes: v === 5 ? Array.from({ length: rng.size(4) }, () => rng.pick([0, 0x11, 0x80])) : [] });
    case "pingreq":
    case "pingresp":
      return { type };
    case "disconnect":
    case "auth":
      return withProps({ type, reasonCode: rng.bool() ? 0 : rng.pick(type === "auth" ? [0x18, 0x19] : [0x04, 0x8e, 0x93]) });
  }
}

/** Raw v5 property bytes: real ids (some foreign to the packet), duplicates, bad values. */
function rawProperties(rng: Rng): number[] {
  const out: number[] = [];
  const n = 1 + rng.size(6);
  const ids = [0x01, 0x02, 0x03, 0x08, 0x09, 0x0b, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1c, 0x1f, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x00, 0x7f, 0x80];
  let last: number[] = [];
  for (let i = 0; i < n; i++) {
    if (last.length && rng.bool(0.3)) {
      out.push(...last); // the same property twice
      continue;
    }
    const pid = rng.pick(ids);
    const one: number[] = [pid];
    switch (rng.int(5)) {
      case 0:
        one.push(rng.pick([0, 1, 2, 0xff]));
        break;
      case 1:
        one.push(rng.int(256), rng.int(256));
        break;
      case 2:
        one.push(rng.int(256), rng.int(256), rng.int(256), rng.int(256));
        break;
      case 3: {
        const len = rng.size(8);
        one.push(len >> 8, len & 0xff, ...Array.from(rng.bytes(len)));
        break;
      }
      case 4:
        one.push(...rng.pick([[0x80, 0x01], [0xff, 0xff, 0xff, 0x7f], [0x00], [0x80, 0x80, 0x80, 0x80, 0x01]]));
        break;
    }
    last = one;
    out.push(...one);
  }
  return out;
}

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A v5 packet whose property block is replaced by raw (often illegal) properties, re-framed to stay whole. */
function withRawProperties(rng: Rng): Uint8Array {
  const props = rawProperties(rng);
  const block = [...varint(props.length), ...props];
  let first: number;
  let body: number[];
  switch (rng.int(6)) {
    case 0: // PUBLISH QoS 1: topic, id, properties, payload
      first = 0x32;
      body = [0, 1, 0x74, 0x12, 0x34, ...block, 1, 2, 3];
      break;
    case 1: // CONNACK
      first = 0x20;
      body = [0, 0, ...block];
      break;
    case 2: // DISCONNECT
      first = 0xe0;
      body = [0, ...block];
      break;
    case 3: // PUBACK with reason + properties
      first = 0x40;
      body = [0, 7, 0x10, ...block];
      break;
    case 4: // SUBACK
      first = 0x90;
      body = [0, 9, ...block, 1];
      break;
    default: // CONNECT v5 with will, properties in both blocks
      first = 0x10;
      body = [0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x06, 0, 60, ...block, 0, 1, 0x63, ...block, 0, 1, 0x77, 0, 0];
  }
  return Uint8Array.from([first, ...varint(body.length), ...body]);
}

/** Rewrites the remaining length of a framed packet to `rem` (pushed to a limit). */
function pushRemainingLength(rng: Rng, bytes: Uint8Array): Uint8Array {
  if (bytes.length < 2) return bytes;
  let i = 1;
  while (i < bytes.length && i < 5 && bytes[i] & 0x80) i++;
  const rem = rng.pick([0, 1, 127, 128, 16_383, 16_384, 2_097_151, 268_435_455, bytes.length, bytes.length - 2, DEFAULT_MAX_PACKET_SIZE]);
  return Uint8Array.from([bytes[0], ...varint(Math.max(0, rem)), ...bytes.subarray(i + 1)]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function generateMqtt(rng: Rng): MqttInput {
  const version: ProtocolVersion = rng.bool() ? 5 : 4;
  const maxPacketSize = rng.bool(0.9) ? DEFAULT_MAX_PACKET_SIZE : rng.pick([2, 5, 64, 1024]);
  let bytes: Uint8Array;
  const mode = rng.int(10);
  if (mode === 0) bytes = randomBytes(rng, 128);
  else {
    const parts: Uint8Array[] = [];
    const n = 1 + rng.size(4);
    for (let k = 0; k < n; k++) {
      if (version === 5 && rng.bool(0.15)) parts.push(withRawProperties(rng));
      else parts.push(encodePacket(randomPacket(rng, version), version));
    }
    if (mode <= 3) bytes = concat(parts);
    else if (mode <= 7) {
      const k = rng.int(parts.length);
      parts[k] = mutateBytes(rng, parts[k], 4, parts);
      bytes = concat(parts);
    } else if (mode === 8) {
      const k = rng.int(parts.length);
      parts[k] = pushRemainingLength(rng, parts[k]);
      bytes = concat(parts);
    } else bytes = mutateBytes(rng, concat(parts), 6);
  }
  return { version, bytes, chunks: randomChunking(rng, bytes.length), maxPacketSize };
}

type Ending = { kind: "need-more" } | { kind: "error"; code: string };

/** Feeds `input` in its chunking to a streaming decoder: the packets, the ending, bytes used by the packets. */
function stream(d: MqttDecoder | ClientDecoder, input: MqttInput): { packets: MqttPacket[]; ending: Ending } {
  const got: MqttPacket[] = [];
  let pushed = 0;
  let prev = 0;
  let calls = 0;
  for (const end of input.chunks) {
    d.push(input.bytes.subarray(prev, end));
    pushed += end - prev;
    prev = end;
    assert(d.buffered <= pushed, `buffered ${d.buffered} > pushed ${pushed}`);
    for (;;) {
      assert(++calls <= input.bytes.length + input.chunks.length + 2, "decoder.next() did not settle");
      let r;
      try {
        r = d.next();
      } catch (e) {
        throw expectTyped(e, "decoder.next threw instead of returning the error");
      }
      if (r === undefined) break;
      if (r instanceof MqttProtocolError) {
        assert(d.buffered === 0, "decoder keeps bytes after an error");
        assert(d.next() === r, "decoder error is not sticky");
        return { packets: got, ending: { kind: "error", code: r.code } };
      }
      got.push(d instanceof ClientDecoder ? kept(r) : r);
    }
  }
  return { packets: got, ending: { kind: "need-more" } };
}

/** A copy of what a ClientDecoder returned, kept past its next(): it fills one acknowledgement object again each time. */
function kept(p: MqttPacket): MqttPacket {
  const copy: Record<string, unknown> = { ...p };
  for (const k of Object.keys(copy)) if (copy[k] === undefined) delete copy[k];
  return copy as unknown as MqttPacket;
}

/** Packet types only a server decodes (MQTT 5 §2.1.2 direction column). */
const TO_SERVER_ONLY = new Set([1, 8, 10]);

function expectTyped(e: unknown, where: string): MqttProtocolError {
  if (e instanceof MqttProtocolError) return e;
  throw e instanceof Error ? e : new Error(`${where}: non-Error thrown ${String(e)}`);
}

/** One-shot reference: decodePacket in a loop, version switching after CONNECT like the decoder. */
function decodeAll(input: MqttInput): { packets: MqttPacket[]; versions: ProtocolVersion[]; used: number[]; ending: Ending } {
  const packets: MqttPacket[] = [];
  const versions: ProtocolVersion[] = [];
  const used: number[] = [];
  let v = input.version;
  let offset = 0;
  for (let guard = 0; guard <= input.bytes.length; guard++) {
    let d;
    try {
      d = decodePacket(input.bytes, v, offset, input.maxPacketSize);
    } catch (e) {
      return { packets, versions, used, ending: { kind: "error", code: expectTyped(e, "decodePacket").code } };
    }
    if (d === undefined) return { packets, versions, used, ending: { kind: "need-more" } };
    assert(d.used >= 2 && offset + d.used <= input.bytes.length, `decodePacket used ${d.used} bytes at ${offset}`);
    packets.push(d.packet);
    used.push(d.used);
    versions.push(d.packet.type === "connect" ? d.packet.protocolVersion : v);
    if (d.packet.type === "connect") v = d.packet.protocolVersion;
    offset += d.used;
  }
  throw new FuzzFailure("decodePacket loop did not end within one iteration per byte");
}

function payloadBytes(p: MqttPacket): number {
  return p.type === "publish" ? p.payload.length : 0;
}

export const mqttTarget: FuzzTarget<MqttInput> = {
  name: "mqtt",
  description: "MQTT 3.1.1/5 byte streams (random, valid, mutated, raw v5 properties, huge lengths) in random chunkings: packets or MqttProtocolError; chunking-invariant; re-encode round trip",
  generate: generateMqtt,
  show(input) {
    return showValue({ version: input.version, maxPacketSize: input.maxPacketSize, chunks: input.chunks, bytes: hex(input.bytes) });
  },
  check(input) {
    const reference = decodeAll(input);
    // streaming, in the input's chunking
    const { packets: got, ending } = stream(new MqttDecoder({ version: input.version, maxPacketSize: input.maxPacketSize }), input);
    assert(got.length === reference.packets.length, `streaming gave ${got.length} packets, one-shot ${reference.packets.length}`);
    for (let k = 0; k < got.length; k++) {
      assert(deepEqual(got[k], reference.packets[k]), `packet ${k} differs between chunkings: ${showValue(got[k])} vs ${showValue(reference.packets[k])}`);
    }
    assert(deepEqual(ending, reference.ending), `ending differs: streaming ${showValue(ending)} vs one-shot ${showValue(reference.ending)}`);
    // the client session's decoder: the same, up to a packet that only travels to a server
    const client = stream(new ClientDecoder({ version: input.version, maxPacketSize: input.maxPacketSize }), input);
    let offset = 0;
    for (let k = 0; k < client.packets.length; k++) {
      assert(k < got.length && deepEqual(client.packets[k], got[k]), `ClientDecoder packet ${k} differs from MqttDecoder's`);
      offset += reference.used[k];
    }
    const refusedType = client.ending.kind === "error" && offset < input.bytes.length && TO_SERVER_ONLY.has(input.bytes[offset] >> 4);
    if (!refusedType) {
      assert(client.packets.length === got.length, `ClientDecoder gave ${client.packets.length} packets, MqttDecoder ${got.length}`);
      assert(deepEqual(client.ending, ending), `ClientDecoder ending ${showValue(client.ending)} vs ${showValue(ending)}`);
    }
    let payload = 0;
    for (const p of got) payload += payloadBytes(p);
    assert(payload <= input.bytes.length, "decoded payloads larger than the input");
    // round trip: a decoded packet is a valid packet
    for (let k = 0; k < got.length; k++) {
      const p = got[k];
      const v = reference.versions[k];
      let again: Uint8Array;
      try {
        again = encodePacket(p, v);
      } catch (e) {
        throw new FuzzFailure(`decoded ${p.type} does not re-encode (v${v}): ${String(e)} — ${showValue(p)}`);
      }
      const back = decodePacket(again, v, 0, again.length);
      assert(back !== undefined && back.used === again.length, `re-encoded ${p.type} does not decode whole`);
      assert(deepEqual(back.packet, p), `re-encoded ${p.type} decodes differently: ${showValue(back.packet)} vs ${showValue(p)}`);
    }
    const last = got.length ? got[got.length - 1].type : "none";
    return ending.kind === "error" ? `error:${ending.code}` : got.length ? `ok:${last}` : "need-more";
  },
};
