/**
 * MQTT 3.1.1 / 5.0 encoders: packet objects -> bytes (the size pass and the
 * writers of each packet). Encoding makes one exact size pass and writes into
 * one Uint8Array (the caller's, or a new one of exactly that size): no
 * per-field allocations. PUBLISH, the packet a device sends most, has a path
 * of its own (encodePublish). Re-exported by codec.ts.
 */
import { MoteError } from "../errors.js";
import { writeUtf8 } from "../util/utf8.js";
import type { MqttPacket, Properties, ProtocolVersion, PublishPacket, QoS } from "./packets.js";
import { propertiesBodySize, writeProperties } from "./properties.js";
import { MAX_VARINT, binarySize, stringSize, varintLength, writeBinary, writeString, writeU16, writeVarint } from "./wire.js";
import { AUTH, CONNACK, DISCONNECT, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, SUBACK, SUBSCRIBE, UNSUBACK, UNSUBSCRIBE } from "./names.js";

/** Exact number of bytes `encodePacket(packet, version)` writes. */
export function packetSize(packet: MqttPacket, version: ProtocolVersion): number {
  const rem = remainingLength(packet, version, serverSentLength);
  return 1 + varintLength(rem) + rem;
}

/** `packetSize` for the packets a client sends (store.ts). */
export function clientPacketSize(packet: MqttPacket, version: ProtocolVersion): number {
  const rem = remainingLength(packet, version);
  return 1 + varintLength(rem) + rem;
}

/** Exact size of a PUBLISH of this shape, whatever its packet id (limits are checked before an id is given). */
export function publishSize(p: PublishPacket, version: ProtocolVersion): number {
  // the topic's length from the encoder's cache: utf8Length made a buffer per call on XS
  let n = 2 + topicBytes(p.topic).length + p.payload.length + (p.qos > 0 ? 2 : 0);
  if (version === 5) n += propsSize(p.properties);
  return 1 + varintLength(n) + n;
}

/**
 * Encodes `packet` for protocol `version`. With `out`, writes at `offset` and
 * returns the view of the bytes written (MoteError "overflow" if it does not
 * fit); without, returns a new array of exactly the packet's size.
 * Caller misuse (packet id 0 on QoS>0, string over 65535 bytes, packet over
 * the 268,435,455-byte limit of §1.5.5) throws MoteError.
 */
export function encodePacket(packet: MqttPacket, version: ProtocolVersion, out?: Uint8Array, offset = 0): Uint8Array {
  return encodeWith(packet, version, out, offset, serverSentLength, writeServerSent);
}

/**
 * `encodePacket` for the packets a client sends: the encoders of CONNACK,
 * SUBACK, UNSUBACK and PINGRESP stay out of a client's bundle (docs/size.md);
 * given one of those it throws MoteError "invalid-packet".
 */
export function encodeClientPacket(packet: MqttPacket, version: ProtocolVersion, out?: Uint8Array, offset = 0): Uint8Array {
  return encodeWith(packet, version, out, offset, undefined, undefined);
}

function encodeWith(
  packet: MqttPacket,
  version: ProtocolVersion,
  out: Uint8Array | undefined,
  offset: number,
  serverSentSize: typeof serverSentLength | undefined,
  serverSentWrite: typeof writeServerSent | undefined,
): Uint8Array {
  if (packet.type === PUBLISH) return encodePublish(packet, version, out, offset);
  const rem = remainingLength(packet, version, serverSentSize);
  const total = 1 + varintLength(rem) + rem;
  if (out === undefined) offset = 0;
  out = target(out, offset, total);
  const end = writePacket(packet, version, rem, out, offset, serverSentWrite);
  if (end !== offset + total) throw new MoteError("internal", `size pass ${total} != written ${end - offset}`);
  return offset === 0 && end === out.length ? out : out.subarray(offset, end);
}

/** `out` (checked to hold `total` bytes at `offset`), or a new array of exactly `total` bytes. */
function target(out: Uint8Array | undefined, offset: number, total: number): Uint8Array {
  if (out === undefined) return new Uint8Array(total);
  if (offset + total > out.length) throw new MoteError("overflow", `packet of ${total} bytes does not fit`);
  return out;
}

/**
 * PUBLISH, the packet a device sends most, sized and written in one function
 * (§3.3). XS inlines no calls and walks strings one character at a time in
 * bytecode, so the generic path's helper calls and per-character topic loops
 * were most of its cost on the chip (bench/codec-moddable.ts).
 */
function encodePublish(p: PublishPacket, v: ProtocolVersion, out: Uint8Array | undefined, offset: number): Uint8Array {
  const qos = checkQoS(p.qos);
  const topic = topicBytes(p.topic);
  const payload = p.payload;
  let rem = 2 + topic.length + payload.length;
  const id = qos > 0 ? checkPacketId(p.packetId) : 0;
  if (qos > 0) rem += 2;
  let props = 0;
  if (v === 5) {
    props = propertiesBodySize(p.properties);
    rem += varintLength(props) + props;
  }
  if (rem > MAX_VARINT) throw new MoteError("packet-too-large", `${rem} bytes > ${MAX_VARINT} (§1.5.5)`);
  const total = 1 + varintLength(rem) + rem;
  const bytes = target(out, offset, total);
  if (out === undefined) offset = 0;
  let o = offset;
  bytes[o++] = 0x30 | (p.dup ? 0x08 : 0) | (qos << 1) | (p.retain ? 0x01 : 0);
  o = writeVarint(rem, bytes, o);
  bytes[o++] = topic.length >> 8;
  bytes[o++] = topic.length & 0xff;
  bytes.set(topic, o);
  o += topic.length;
  if (qos > 0) {
    bytes[o++] = id >> 8;
    bytes[o++] = id & 0xff;
  }
  if (v === 5) o = writeProperties(p.properties, props, bytes, o);
  bytes.set(payload, o);
  o += payload.length;
  return offset === 0 && o === bytes.length ? bytes : bytes.subarray(offset, o);
}

/** Topics whose UTF-8 bytes are kept (a device publishes to a handful; each at most TOPIC_CACHE_BYTES). */
const TOPIC_CACHE = 4;
const TOPIC_CACHE_BYTES = 128;
const cachedTopics: string[] = [];
const cachedTopicBytes: Uint8Array[] = [];
let nextCached = 0;

/**
 * The UTF-8 bytes of a topic name (§1.5.4), from a small cache: comparing two
 * strings is one native step in XS, encoding one is a bytecode loop per
 * character. The cached arrays are only ever copied from, never handed out.
 */
function topicBytes(topic: string): Uint8Array {
  for (let i = 0; i < cachedTopics.length; i++) if (cachedTopics[i] === topic) return cachedTopicBytes[i];
  const bytes = new Uint8Array(stringSize(topic) - 2);
  writeUtf8(topic, bytes, 0);
  if (bytes.length <= TOPIC_CACHE_BYTES) {
    cachedTopics[nextCached] = topic;
    cachedTopicBytes[nextCached] = bytes;
    nextCached = (nextCached + 1) % TOPIC_CACHE;
  }
  return bytes;
}

function propsSize(p: Properties | undefined): number {
  const body = propertiesBodySize(p);
  return varintLength(body) + body;
}

function checkPacketId(id: number | undefined): number {
  if (id === undefined || !(id >= 1 && id <= 0xffff) || id !== Math.floor(id)) {
    throw new MoteError("invalid-packet-id", `packet id ${id}`);
  }
  return id;
}

function checkQoS(q: number): QoS {
  if (q !== 0 && q !== 1 && q !== 2) throw new MoteError("invalid-qos", `QoS ${q}`);
  return q;
}

function remainingLength(p: MqttPacket, v: ProtocolVersion, serverSent?: typeof serverSentLength): number {
  let n = 0;
  switch (p.type) {
    case "connect": {
      n = 10 + stringSize(p.clientId); // §3.1.2: "MQTT", level, flags, keep alive
      if (v === 5) n += propsSize(p.properties);
      if (p.will !== undefined) {
        checkQoS(p.will.qos);
        if (v === 5) n += propsSize(p.will.properties);
        n += stringSize(p.will.topic) + binarySize(p.will.payload);
      }
      if (p.username !== undefined) n += stringSize(p.username);
      else if (p.password !== undefined && v === 4) {
        throw new MoteError("invalid-connect", "3.1.1 needs a user name with a password (§3.1.2.9)");
      }
      if (p.password !== undefined) n += binarySize(p.password);
      if (!(p.keepAlive >= 0 && p.keepAlive <= 0xffff)) throw new MoteError("invalid-keepalive", `${p.keepAlive}`);
      break;
    }
    case PUBLISH:
      n = stringSize(p.topic) + p.payload.length;
      if (checkQoS(p.qos) > 0) {
        checkPacketId(p.packetId);
        n += 2;
      }
      if (v === 5) n += propsSize(p.properties);
      break;
    case PUBACK:
    case PUBREC:
    case PUBREL:
    case PUBCOMP:
      checkPacketId(p.packetId);
      n = 2;
      if (v === 5 && (p.reasonCode !== 0 || p.properties !== undefined)) {
        n += 1;
        if (p.properties !== undefined) n += propsSize(p.properties);
      }
      break;
    case SUBSCRIBE:
      checkPacketId(p.packetId);
      if (p.subscriptions.length === 0) throw new MoteError("invalid-subscribe", "no subscriptions (§3.8.3)");
      n = 2;
      if (v === 5) n += propsSize(p.properties);
      for (const s of p.subscriptions) n += stringSize(s.filter) + 1;
      break;
    case UNSUBSCRIBE:
      checkPacketId(p.packetId);
      if (p.filters.length === 0) throw new MoteError("invalid-unsubscribe", "no topic filters (§3.10.3)");
      n = 2;
      if (v === 5) n += propsSize(p.properties);
      for (const f of p.filters) n += stringSize(f);
      break;
    case PINGREQ:
      n = 0;
      break;
    case DISCONNECT:
    case AUTH:
      if (v === 4) {
        if (p.type === AUTH) throw new MoteError("invalid-packet", "AUTH does not exist in MQTT 3.1.1");
        n = 0;
      } else if (p.reasonCode !== 0 || p.properties !== undefined) {
        n = 1;
        if (p.properties !== undefined) n += propsSize(p.properties);
      }
      break;
    default:
      if (serverSent === undefined) throw unknownType(p);
      n = serverSent(p, v);
  }
  if (n > MAX_VARINT) throw new MoteError("packet-too-large", `${n} bytes > ${MAX_VARINT} (§1.5.5)`);
  return n;
}

/** Remaining length of the packets only a server sends (CONNACK, SUBACK, UNSUBACK, PINGRESP). */
function serverSentLength(p: MqttPacket, v: ProtocolVersion): number {
  let n = 0;
  switch (p.type) {
    case CONNACK:
      n = 2;
      if (v === 5) n += propsSize(p.properties);
      break;
    case SUBACK:
      checkPacketId(p.packetId);
      n = 2 + p.reasonCodes.length;
      if (v === 5) n += propsSize(p.properties);
      break;
    case UNSUBACK:
      checkPacketId(p.packetId);
      n = 2;
      if (v === 5) n += propsSize(p.properties) + p.reasonCodes.length;
      break;
    case PINGRESP:
      break;
    default:
      throw unknownType(p);
  }
  return n;
}

function unknownType(p: MqttPacket): MoteError {
  return new MoteError("invalid-packet", `unknown packet type ${(p as { type: string }).type}`);
}

function writeProps(p: Properties | undefined, out: Uint8Array, o: number): number {
  return writeProperties(p, propertiesBodySize(p), out, o);
}

function writePacket(p: MqttPacket, v: ProtocolVersion, rem: number, out: Uint8Array, o: number, serverSent?: typeof writeServerSent): number {
  switch (p.type) {
    case "connect": {
      out[o++] = 0x10;
      o = writeVarint(rem, out, o);
      out[o++] = 0; // §3.1.2.1 protocol name "MQTT"
      out[o++] = 4;
      out[o++] = 0x4d;
      out[o++] = 0x51;
      out[o++] = 0x54;
      out[o++] = 0x54;
      out[o++] = v;
      const w = p.will;
      let flags = p.clean ? 0x02 : 0; // §3.1.2.3 connect flags
      if (w !== undefined) flags |= 0x04 | (w.qos << 3) | (w.retain ? 0x20 : 0);
      if (p.password !== undefined) flags |= 0x40;
      if (p.username !== undefined) flags |= 0x80;
      out[o++] = flags;
      o = writeU16(p.keepAlive, out, o);
      if (v === 5) o = writeProps(p.properties, out, o);
      o = writeString(p.clientId, out, o);
      if (w !== undefined) {
        if (v === 5) o = writeProps(w.properties, out, o);
        o = writeString(w.topic, out, o);
        o = writeBinary(w.payload, out, o);
      }
      if (p.username !== undefined) o = writeString(p.username, out, o);
      if (p.password !== undefined) o = writeBinary(p.password, out, o);
      return o;
    }
    case PUBACK:
    case PUBREC:
    case PUBREL:
    case PUBCOMP:
      out[o++] = p.type === PUBACK ? 0x40 : p.type === PUBREC ? 0x50 : p.type === PUBREL ? 0x62 : 0x70;
      o = writeVarint(rem, out, o);
      o = writeU16(p.packetId, out, o);
      if (rem > 2) out[o++] = p.reasonCode;
      if (rem > 3) o = writeProps(p.properties, out, o);
      return o;
    case SUBSCRIBE:
      out[o++] = 0x82; // §3.8.1 reserved flags 0010
      o = writeVarint(rem, out, o);
      o = writeU16(p.packetId, out, o);
      if (v === 5) o = writeProps(p.properties, out, o);
      for (const s of p.subscriptions) {
        o = writeString(s.filter, out, o);
        let opts: number = checkQoS(s.qos);
        if (v === 5) {
          // §3.8.3.1 subscription options
          if (s.noLocal) opts |= 0x04;
          if (s.retainAsPublished) opts |= 0x08;
          const rh = s.retainHandling ?? 0;
          if (rh !== 0 && rh !== 1 && rh !== 2) throw new MoteError("invalid-subscribe", `retain handling ${rh}`);
          opts |= rh << 4;
        }
        out[o++] = opts;
      }
      return o;
    case UNSUBSCRIBE:
      out[o++] = 0xa2; // §3.10.1 reserved flags 0010
      o = writeVarint(rem, out, o);
      o = writeU16(p.packetId, out, o);
      if (v === 5) o = writeProps(p.properties, out, o);
      for (const f of p.filters) o = writeString(f, out, o);
      return o;
    case PINGREQ:
      out[o++] = 0xc0;
      out[o++] = 0;
      return o;
    case DISCONNECT:
    case AUTH:
      out[o++] = p.type === DISCONNECT ? 0xe0 : 0xf0;
      o = writeVarint(rem, out, o);
      if (rem > 0) out[o++] = p.reasonCode;
      if (rem > 1) o = writeProps(p.properties, out, o);
      return o;
    default:
      // remainingLength refused these types unless `serverSent` was given
      return serverSent!(p, v, rem, out, o);
  }
}

/** Writes the packets only a server sends (CONNACK, SUBACK, UNSUBACK, PINGRESP). */
function writeServerSent(p: MqttPacket, v: ProtocolVersion, rem: number, out: Uint8Array, o: number): number {
  switch (p.type) {
    case CONNACK:
      out[o++] = 0x20;
      o = writeVarint(rem, out, o);
      out[o++] = p.sessionPresent ? 1 : 0;
      out[o++] = p.reasonCode;
      if (v === 5) o = writeProps(p.properties, out, o);
      return o;
    case SUBACK:
      out[o++] = 0x90;
      o = writeVarint(rem, out, o);
      o = writeU16(p.packetId, out, o);
      if (v === 5) o = writeProps(p.properties, out, o);
      for (const c of p.reasonCodes) out[o++] = c;
      return o;
    case UNSUBACK:
      out[o++] = 0xb0;
      o = writeVarint(rem, out, o);
      o = writeU16(p.packetId, out, o);
      if (v === 5) {
        o = writeProps(p.properties, out, o);
        for (const c of p.reasonCodes) out[o++] = c;
      }
      return o;
    case PINGRESP:
      out[o++] = 0xd0;
      out[o++] = 0;
      return o;
    default:
      throw unknownType(p);
  }
}
