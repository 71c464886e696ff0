/**
 * MQTT 3.1.1 / 5.0 codec: packet objects <-> bytes, no I/O, no state beyond
 * the bytes a streaming decoder holds.
 *
 * Encoding makes one exact size pass and writes into one Uint8Array (the
 * caller's, or a new one of exactly that size): no per-field allocations.
 * Decoding reads one whole packet (fixed header §2.1, variable header,
 * payload) and refuses anything out of rule with an MqttProtocolError whose
 * reasonCode is what a v5 session puts in its DISCONNECT (§4.13):
 * 0x81 malformed, 0x82 protocol error, 0x95 packet too large.
 *
 * `MqttDecoder` is the streaming front: `push(bytes)` only queues, `next()`
 * returns a packet, `undefined` for "need more bytes", or the error. Packets
 * may arrive in any number of pieces and several per piece. A decoded
 * PUBLISH payload is a view into the pushed bytes (a packet that spans
 * pieces is first joined into one new array of exactly its size), so callers
 * must not reuse arrays they pushed.
 */
import { MoteError } from "../errors.js";
import { MqttProtocolError, malformed, protocolError } from "./errors.js";
import type {
  AckPacket,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  MqttPacket,
  Properties,
  ProtocolVersion,
  PublishPacket,
  QoS,
  SubackPacket,
  SubscribePacket,
  Subscription,
  UnsubackPacket,
  UnsubscribePacket,
} from "./packets.js";
import { WILL_CONTEXT, propertiesBodySize, readProperties, writeProperties } from "./properties.js";
import { writeUtf8 } from "../util/utf8.js";
import {
  MAX_VARINT,
  Reader,
  binarySize,
  stringSize,
  varintLength,
  writeBinary,
  writeString,
  writeU16,
  writeVarint,
} from "./wire.js";

/** Default largest packet accepted by the decoder (bytes, fixed header included). */
export const DEFAULT_MAX_PACKET_SIZE = 16_384;

// ---------------------------------------------------------------- encoding

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
  let n = stringSize(p.topic) + p.payload.length + (p.qos > 0 ? 2 : 0);
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
  if (packet.type === "publish") return encodePublish(packet, version, out, offset);
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
    case "publish":
      n = stringSize(p.topic) + p.payload.length;
      if (checkQoS(p.qos) > 0) {
        checkPacketId(p.packetId);
        n += 2;
      }
      if (v === 5) n += propsSize(p.properties);
      break;
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      checkPacketId(p.packetId);
      n = 2;
      if (v === 5 && (p.reasonCode !== 0 || p.properties !== undefined)) {
        n += 1;
        if (p.properties !== undefined) n += propsSize(p.properties);
      }
      break;
    case "subscribe":
      checkPacketId(p.packetId);
      if (p.subscriptions.length === 0) throw new MoteError("invalid-subscribe", "no subscriptions (§3.8.3)");
      n = 2;
      if (v === 5) n += propsSize(p.properties);
      for (const s of p.subscriptions) n += stringSize(s.filter) + 1;
      break;
    case "unsubscribe":
      checkPacketId(p.packetId);
      if (p.filters.length === 0) throw new MoteError("invalid-unsubscribe", "no topic filters (§3.10.3)");
      n = 2;
      if (v === 5) n += propsSize(p.properties);
      for (const f of p.filters) n += stringSize(f);
      break;
    case "pingreq":
      n = 0;
      break;
    case "disconnect":
    case "auth":
      if (v === 4) {
        if (p.type === "auth") throw new MoteError("invalid-packet", "AUTH does not exist in MQTT 3.1.1");
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
    case "connack":
      n = 2;
      if (v === 5) n += propsSize(p.properties);
      break;
    case "suback":
      checkPacketId(p.packetId);
      n = 2 + p.reasonCodes.length;
      if (v === 5) n += propsSize(p.properties);
      break;
    case "unsuback":
      checkPacketId(p.packetId);
      n = 2;
      if (v === 5) n += propsSize(p.properties) + p.reasonCodes.length;
      break;
    case "pingresp":
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
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      out[o++] = p.type === "puback" ? 0x40 : p.type === "pubrec" ? 0x50 : p.type === "pubrel" ? 0x62 : 0x70;
      o = writeVarint(rem, out, o);
      o = writeU16(p.packetId, out, o);
      if (rem > 2) out[o++] = p.reasonCode;
      if (rem > 3) o = writeProps(p.properties, out, o);
      return o;
    case "subscribe":
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
    case "unsubscribe":
      out[o++] = 0xa2; // §3.10.1 reserved flags 0010
      o = writeVarint(rem, out, o);
      o = writeU16(p.packetId, out, o);
      if (v === 5) o = writeProps(p.properties, out, o);
      for (const f of p.filters) o = writeString(f, out, o);
      return o;
    case "pingreq":
      out[o++] = 0xc0;
      out[o++] = 0;
      return o;
    case "disconnect":
    case "auth":
      out[o++] = p.type === "disconnect" ? 0xe0 : 0xf0;
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
    case "connack":
      out[o++] = 0x20;
      o = writeVarint(rem, out, o);
      out[o++] = p.sessionPresent ? 1 : 0;
      out[o++] = p.reasonCode;
      if (v === 5) o = writeProps(p.properties, out, o);
      return o;
    case "suback":
      out[o++] = 0x90;
      o = writeVarint(rem, out, o);
      o = writeU16(p.packetId, out, o);
      if (v === 5) o = writeProps(p.properties, out, o);
      for (const c of p.reasonCodes) out[o++] = c;
      return o;
    case "unsuback":
      out[o++] = 0xb0;
      o = writeVarint(rem, out, o);
      o = writeU16(p.packetId, out, o);
      if (v === 5) {
        o = writeProps(p.properties, out, o);
        for (const c of p.reasonCodes) out[o++] = c;
      }
      return o;
    case "pingresp":
      out[o++] = 0xd0;
      out[o++] = 0;
      return o;
    default:
      throw unknownType(p);
  }
}

// ---------------------------------------------------------------- decoding

/**
 * Decodes the body of one packet whose fixed header byte is `first` and whose
 * remaining bytes are `bytes[start, end)`. Throws MqttProtocolError.
 */
export function decodeBody(
  first: number,
  bytes: Uint8Array,
  start: number,
  end: number,
  version: ProtocolVersion,
  reader?: Reader,
): MqttPacket {
  return decodeBodyWith(first, bytes, start, end, version, reader, decodeServerBound);
}

/**
 * `decodeBody` for a client: CONNECT, SUBSCRIBE and UNSUBSCRIBE only ever
 * travel to a server, so from a server they are a Protocol Error (MQTT 5
 * §4.13; the session closed on them before as well) and their decoders stay
 * out of a client's bundle (docs/size.md).
 */
export function decodeClientBody(
  first: number,
  bytes: Uint8Array,
  start: number,
  end: number,
  version: ProtocolVersion,
  reader?: Reader,
): MqttPacket {
  return decodeBodyWith(first, bytes, start, end, version, reader, undefined);
}

/** Type 1, 8 or 10: the packets a client sends and a server decodes. */
function decodeServerBound(r: Reader, type: number, version: ProtocolVersion): MqttPacket {
  return type === 1 ? decodeConnect(r) : type === 8 ? decodeSubscribe(r, version) : decodeUnsubscribe(r, version);
}

function decodeBodyWith(
  first: number,
  bytes: Uint8Array,
  start: number,
  end: number,
  version: ProtocolVersion,
  reader: Reader | undefined,
  serverBound: typeof decodeServerBound | undefined,
): MqttPacket {
  const type = first >> 4;
  const flags = first & 0x0f;
  let r: Reader;
  if (reader === undefined) r = new Reader(bytes, start, end);
  else {
    r = reader; // the streaming decoder reuses one Reader: one allocation less per packet
    r.bytes = bytes;
    r.pos = start;
    r.end = end;
  }
  let packet: MqttPacket;
  // §2.1.3: fixed-header flags are reserved (must be as listed) for all but PUBLISH
  const wantFlags = type === 6 || type === 8 || type === 10 ? 2 : 0;
  if (type !== 3 && flags !== wantFlags) {
    throw malformed(`bad fixed header flags 0x${first.toString(16)}`);
  }
  switch (type) {
    case 1:
    case 8:
    case 10:
      if (serverBound === undefined) throw protocolError(`${type === 1 ? "CONNECT" : type === 8 ? "SUBSCRIBE" : "UNSUBSCRIBE"} from a server`);
      packet = serverBound(r, type, version);
      break;
    case 2:
      packet = decodeConnack(r, version);
      break;
    case 3:
      packet = decodePublish(r, flags, version);
      break;
    case 4:
    case 5:
    case 6:
    case 7:
      packet = decodeAck(r, type, version);
      break;
    case 9:
      packet = decodeSuback(r, version);
      break;
    case 11:
      packet = decodeUnsuback(r, version);
      break;
    case 12:
      packet = { type: "pingreq" };
      break;
    case 13:
      packet = { type: "pingresp" };
      break;
    case 14:
      packet = decodeDisconnectOrAuth(r, "disconnect", version);
      break;
    case 15:
      if (version !== 5) throw malformed("AUTH in MQTT 3.1.1");
      packet = decodeDisconnectOrAuth(r, "auth", version);
      break;
    default:
      throw malformed("reserved packet type 0"); // §2.1.2
  }
  if (r.pos !== end) throw malformed(`${end - r.pos} bytes left over in ${packet.type}`);
  return packet;
}

function packetId(r: Reader): number {
  const id = r.u16("packet identifier");
  if (id === 0) throw protocolError("packet identifier 0"); // §2.2.1
  return id;
}

function decodeConnect(r: Reader): ConnectPacket {
  const name = r.utf8("protocol name");
  const level = r.u8("protocol level");
  if (name !== "MQTT" || (level !== 4 && level !== 5)) {
    throw new MqttProtocolError("unsupported-protocol-version", `${name} level ${level}`); // §3.1.2.2
  }
  const v = level as ProtocolVersion;
  const flags = r.u8("connect flags");
  if (flags & 0x01) throw malformed("reserved connect flag set"); // §3.1.2.3
  const willFlag = (flags & 0x04) !== 0;
  const willQoS = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  if (willQoS === 3) throw malformed("will QoS 3");
  if (!willFlag && (willQoS !== 0 || willRetain)) throw malformed("will QoS/retain without will");
  const hasUser = (flags & 0x80) !== 0;
  const hasPass = (flags & 0x40) !== 0;
  if (v === 4 && hasPass && !hasUser) throw malformed("password without user name");
  const keepAlive = r.u16("keep alive");
  const p: ConnectPacket = { type: "connect", protocolVersion: v, clientId: "", clean: (flags & 0x02) !== 0, keepAlive };
  readV5Properties(r, v, 1, p);
  p.clientId = r.utf8("client identifier");
  if (willFlag) {
    const props = v === 5 ? readProperties(r, WILL_CONTEXT) : undefined;
    const topic = r.utf8("will topic");
    const payload = r.binary("will payload");
    p.will = { topic, payload, qos: willQoS as QoS, retain: willRetain };
    if (props) p.will.properties = props;
  }
  if (hasUser) p.username = r.utf8("user name");
  if (hasPass) p.password = r.binary("password");
  return p;
}

function decodeConnack(r: Reader, v: ProtocolVersion): ConnackPacket {
  const ack = r.u8("acknowledge flags");
  if (ack & 0xfe) throw malformed("reserved connack flags set"); // §3.2.2.1
  const p: ConnackPacket = { type: "connack", sessionPresent: (ack & 1) === 1, reasonCode: r.u8("connect reason code") };
  if (v === 5 && r.remaining() > 0) {
    const props = readProperties(r, 2);
    if (props) p.properties = props;
  }
  return p;
}

function decodePublish(r: Reader, flags: number, v: ProtocolVersion): PublishPacket {
  const qos = (flags >> 1) & 3;
  if (qos === 3) throw malformed("PUBLISH QoS 3"); // §3.3.1.2
  const dup = (flags & 0x08) !== 0;
  if (dup && qos === 0) throw malformed("DUP set on QoS 0"); // §3.3.1.1
  let topic = plainTopic(r);
  if (topic === undefined) {
    topic = r.utf8("topic name");
    for (let i = 0; i < topic.length; i++) {
      const c = topic.charCodeAt(i);
      if (c === 0x2b || c === 0x23) throw new MqttProtocolError("topic-name-invalid", "wildcard in topic name"); // §3.3.2.1
    }
  }
  const p: PublishPacket = { type: "publish", topic, payload: EMPTY, qos: qos as QoS, retain: (flags & 1) === 1, dup };
  if (qos > 0) p.packetId = packetId(r);
  readV5Properties(r, v, 3, p);
  if (topic.length === 0 && p.properties?.topicAlias === undefined) {
    throw new MqttProtocolError(v === 5 ? "protocol-error" : "topic-name-invalid", "empty topic name"); // §3.3.2.1
  }
  p.payload = r.rest();
  return p;
}

/** Any character a plain topic name does not have: non-ASCII, U+0000, '#', '+' (§1.5.4, §3.3.2.1). */
const NOT_PLAIN = /[^\x01-\x22\x24-\x2a\x2c-\x7f]/;
const PLAIN_TOPIC_MAX = 128;

/**
 * The topic name at the Reader when it is short and plain ASCII (the common
 * case), else `undefined` and the Reader untouched (the general UTF-8 path
 * then decodes it, or says what is wrong). In XS the general path loops per
 * byte in bytecode twice (decode, wildcard scan); here one native call makes
 * the string and one native regex test checks it.
 */
function plainTopic(r: Reader): string | undefined {
  const b = r.bytes;
  const at = r.pos;
  if (r.end - at < 2) return undefined;
  const n = (b[at] << 8) | b[at + 1];
  if (n === 0 || n > PLAIN_TOPIC_MAX || at + 2 + n > r.end) return undefined;
  let topic: string;
  if (fromArrayBuffer !== undefined) {
    try {
      topic = fromArrayBuffer(b.buffer, b.byteOffset + at + 2, n);
    } catch {
      return undefined; // not UTF-8: the general path says why
    }
  } else topic = String.fromCharCode.apply(null, b.subarray(at + 2, at + 2 + n) as unknown as number[]);
  // one character per byte and none outside the plain set: ASCII, no U+0000, no wildcard
  if (topic.length !== n || NOT_PLAIN.test(topic)) return undefined;
  r.pos = at + 2 + n;
  return topic;
}

/**
 * XS's own `String.fromArrayBuffer(buffer, offset, length)` (xsString.c): bytes to
 * a string in one native call, twice as fast in XS as `String.fromCharCode.apply`
 * on a view (which also allocates the view). Absent elsewhere (V8).
 */
const fromArrayBuffer = (String as unknown as { fromArrayBuffer?: (b: ArrayBufferLike, offset: number, length: number) => string }).fromArrayBuffer;

const EMPTY = new Uint8Array(0);
const ACK_TYPES = Object.freeze(["puback", "pubrec", "pubrel", "pubcomp"] as const);

function decodeAck(r: Reader, type: number, v: ProtocolVersion): AckPacket {
  const p: AckPacket = { type: ACK_TYPES[type - 4], packetId: packetId(r), reasonCode: 0 };
  if (v === 5) {
    // §3.4.2.1: reason code and properties may be omitted
    if (r.remaining() > 0) p.reasonCode = r.u8("reason code");
    if (r.remaining() > 0) {
      const props = readProperties(r, type);
      if (props) p.properties = props;
    }
  }
  return p;
}

/** MQTT 5 packets carry properties after their fixed fields (§2.2.2); 3.1.1 packets none. */
function readV5Properties(r: Reader, v: ProtocolVersion, type: number, p: { properties?: Properties }): void {
  if (v !== 5) return;
  const props = readProperties(r, type);
  if (props) p.properties = props;
}

function decodeSubscribe(r: Reader, v: ProtocolVersion): SubscribePacket {
  const p: SubscribePacket = { type: "subscribe", packetId: packetId(r), subscriptions: [] };
  readV5Properties(r, v, 8, p);
  if (r.remaining() === 0) throw protocolError("SUBSCRIBE without filters"); // §3.8.3
  while (r.remaining() > 0) {
    const filter = r.utf8("topic filter");
    const o = r.u8("subscription options");
    const qos = o & 3;
    if (qos === 3) throw malformed("subscription QoS 3");
    const s: Subscription = { filter, qos: qos as QoS };
    if (v === 5) {
      if (o & 0xc0) throw malformed("reserved subscription option bits"); // §3.8.3.1
      const rh = (o >> 4) & 3;
      if (rh === 3) throw protocolError("retain handling 3");
      s.noLocal = (o & 0x04) !== 0;
      s.retainAsPublished = (o & 0x08) !== 0;
      s.retainHandling = rh as 0 | 1 | 2;
    } else if (o & 0xfc) throw malformed("reserved subscription bits"); // 3.1.1 §3.8.3.1
    p.subscriptions.push(s);
  }
  return p;
}

function decodeSuback(r: Reader, v: ProtocolVersion): SubackPacket {
  const p: SubackPacket = { type: "suback", packetId: packetId(r), reasonCodes: [] };
  readV5Properties(r, v, 9, p);
  while (r.remaining() > 0) {
    const c = r.u8();
    // 3.1.1 §3.9.3: only 0x00, 0x01, 0x02, 0x80 are allowed
    if (v === 4 && c > 2 && c !== 0x80) throw malformed(`SUBACK code 0x${c.toString(16)}`);
    p.reasonCodes.push(c);
  }
  return p;
}

function decodeUnsubscribe(r: Reader, v: ProtocolVersion): UnsubscribePacket {
  const p: UnsubscribePacket = { type: "unsubscribe", packetId: packetId(r), filters: [] };
  readV5Properties(r, v, 10, p);
  if (r.remaining() === 0) throw protocolError("UNSUBSCRIBE without filters"); // §3.10.3
  while (r.remaining() > 0) p.filters.push(r.utf8("topic filter"));
  return p;
}

function decodeUnsuback(r: Reader, v: ProtocolVersion): UnsubackPacket {
  const p: UnsubackPacket = { type: "unsuback", packetId: packetId(r), reasonCodes: [] };
  if (v === 5) {
    const props = readProperties(r, 11);
    if (props) p.properties = props;
    while (r.remaining() > 0) p.reasonCodes.push(r.u8());
  }
  return p;
}

function decodeDisconnectOrAuth<T extends "disconnect" | "auth">(r: Reader, type: T, v: ProtocolVersion): DisconnectPacket | AuthPacket {
  const p: DisconnectPacket | AuthPacket = { type, reasonCode: 0 };
  if (v === 5) {
    if (r.remaining() > 0) p.reasonCode = r.u8("reason code");
    if (r.remaining() > 0) {
      const props = readProperties(r, type === "disconnect" ? 14 : 15);
      if (props) p.properties = props;
    }
  }
  return p;
}

/** One-shot decode result: a packet and the bytes it used. */
export interface Decoded {
  packet: MqttPacket;
  used: number;
}

/**
 * The fixed header at `bytes[offset, offset + avail)` (§2.1.1; Remaining Length
 * §1.5.5, at most 4 bytes, minimal): `total * 8 + header length` in one number
 * (no allocation per packet), or -1 when more bytes are needed. A packet over
 * `max` bytes is refused with 0x95 (MQTT 5 §3.1.2.11.4). Shared by
 * `decodePacket` and `MqttDecoder`.
 */
function fixedHeader(bytes: Uint8Array, offset: number, avail: number, max: number): number {
  if (avail < 2) return -1;
  let rem = 0;
  let mult = 1;
  let i = 1;
  for (; ; i++) {
    if (i > 4) throw malformed("remaining length longer than 4 bytes");
    if (i >= avail) return -1;
    const b = bytes[offset + i];
    rem += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) {
      if (i > 1 && b === 0) throw malformed("non-minimal remaining length");
      break;
    }
    mult *= 128;
  }
  const total = i + 1 + rem;
  if (total > max) throw new MqttProtocolError("packet-too-large", `a packet of ${total} bytes > the Maximum Packet Size ${max} this side accepts`);
  return total * 8 + i + 1;
}

/**
 * Decodes the first packet in `bytes[offset..]`: `{ packet, used }`, or
 * `undefined` when more bytes are needed. Throws MqttProtocolError.
 */
export function decodePacket(
  bytes: Uint8Array,
  version: ProtocolVersion,
  offset = 0,
  maxPacketSize = MAX_VARINT + 5,
): Decoded | undefined {
  return decodePacketWith(decodeBody, bytes, version, offset, maxPacketSize);
}

/** `decodePacket` with `decodeClientBody`: what a client reads back (store.ts reads stored PUBLISHes). */
export function decodeClientPacket(bytes: Uint8Array, version: ProtocolVersion, offset = 0): Decoded | undefined {
  return decodePacketWith(decodeClientBody, bytes, version, offset, MAX_VARINT + 5);
}

function decodePacketWith(
  decode: typeof decodeBody,
  bytes: Uint8Array,
  version: ProtocolVersion,
  offset: number,
  maxPacketSize: number,
): Decoded | undefined {
  const h = fixedHeader(bytes, offset, bytes.length - offset, maxPacketSize);
  if (h < 0) return undefined;
  const header = h % 8;
  const total = (h - header) / 8;
  if (bytes.length - offset < total) return undefined;
  const packet = decode(bytes[offset], bytes, offset + header, offset + total, version);
  return { packet, used: total };
}

export interface DecoderOptions {
  /** Protocol version used for packets other than CONNECT (default 5). */
  version?: ProtocolVersion;
  /** Largest whole packet accepted, bytes (default 16384); larger → 0x95. */
  maxPacketSize?: number;
}

/**
 * Streaming decoder (h11 style: `push` only queues, `next` decodes).
 * Holds at most one partial packet plus whatever whole packets were pushed
 * and not yet taken; the caller drains with `next()` after each push.
 * After an error it stays failed: every later `next()` returns that error.
 */
class PacketStream {
  version: ProtocolVersion;
  readonly maxPacketSize: number;
  #chunks: Uint8Array[] = [];
  #offset = 0; // into #chunks[0]
  #buffered = 0;
  #failed: MqttProtocolError | undefined;
  readonly #reader = new Reader(EMPTY, 0, 0);
  readonly #decode: typeof decodeBody;

  constructor(options: DecoderOptions, decode: typeof decodeBody) {
    this.#decode = decode;
    this.version = options.version ?? 5;
    this.maxPacketSize = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    if (!(this.maxPacketSize >= 2)) throw new MoteError("invalid-option", "maxPacketSize");
  }

  /** Bytes queued and not yet decoded. */
  get buffered(): number {
    return this.#buffered;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#chunks.push(bytes);
    this.#buffered += bytes.length;
  }

  /** The next packet, `undefined` when more bytes are needed, or the fault. */
  next(): MqttPacket | MqttProtocolError | undefined {
    if (this.#failed) return this.#failed;
    try {
      return this.#next();
    } catch (e) {
      if (e instanceof MqttProtocolError) {
        this.#failed = e;
        this.#chunks.length = 0;
        this.#buffered = 0;
        return e;
      }
      throw e;
    }
  }

  /** Forget everything buffered and any failure (a new connection). */
  reset(): void {
    this.#chunks.length = 0;
    this.#offset = 0;
    this.#buffered = 0;
    this.#failed = undefined;
  }

  #byteAt(k: number): number {
    let ci = 0;
    let pos = this.#offset + k;
    while (pos >= this.#chunks[ci].length) {
      pos -= this.#chunks[ci].length;
      ci++;
    }
    return this.#chunks[ci][pos];
  }

  #next(): MqttPacket | undefined {
    if (this.#buffered < 2) return undefined;
    // the fixed header (≤ 5 bytes) where it lies in the first piece; copied out only when it spans pieces
    const n = Math.min(5, this.#buffered);
    let fixed = this.#chunks[0];
    let at = this.#offset;
    if (fixed.length - at < n) {
      fixed = new Uint8Array(n);
      at = 0;
      for (let k = 0; k < n; k++) fixed[k] = this.#byteAt(k);
    }
    const h = fixedHeader(fixed, at, n, this.maxPacketSize);
    if (h < 0) return undefined;
    const first = fixed[at];
    const header = h % 8;
    const total = (h - header) / 8;
    if (this.#buffered < total) return undefined;
    let bytes: Uint8Array;
    let start: number;
    const head = this.#chunks[0];
    if (head.length - this.#offset >= total) {
      bytes = head;
      start = this.#offset;
      this.#offset += total;
      if (this.#offset === head.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    } else {
      // the packet spans pieces: join it into one array of exactly its size
      bytes = new Uint8Array(total);
      start = 0;
      let filled = 0;
      while (filled < total) {
        const c = this.#chunks[0];
        const take = Math.min(c.length - this.#offset, total - filled);
        bytes.set(c.subarray(this.#offset, this.#offset + take), filled);
        filled += take;
        this.#offset += take;
        if (this.#offset === c.length) {
          this.#chunks.shift();
          this.#offset = 0;
        }
      }
    }
    this.#buffered -= total;
    const r = this.#reader;
    try {
      const packet = this.#decode(first, bytes, start + header, start + total, first >> 4 === 1 ? 5 : this.version, r);
      if (packet.type === "connect") this.version = packet.protocolVersion;
      return packet;
    } finally {
      r.bytes = EMPTY; // hold no reference to the caller's bytes
    }
  }
}

/** The streaming decoder for any packet (a broker, tests, tools). */
export class MqttDecoder extends PacketStream {
  constructor(options: DecoderOptions = {}) {
    super(options, decodeBody);
  }
}

/** The streaming decoder of a client session: `decodeClientBody` (no CONNECT / SUBSCRIBE / UNSUBSCRIBE decoders). */
export class ClientDecoder extends PacketStream {
  constructor(options: DecoderOptions = {}) {
    super(options, decodeClientBody);
  }
}
