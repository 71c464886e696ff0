/**
 * MQTT 3.1.1 / 5.0 packet bodies -> packet objects: one decoder per packet
 * type, each reading the variable header and payload (§3) through a Reader
 * and refusing anything out of rule with an MqttProtocolError. The fixed
 * header and the streaming front are in codec.ts, which re-exports these.
 */
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
import { WILL_CONTEXT, readProperties } from "./properties.js";
import { Reader } from "./wire.js";
import { PINGRESP, PUBLISH } from "./names.js";

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
      packet = { type: PINGRESP };
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

/** Labels of the fields every PUBLISH and acknowledgement reads, made once (names.ts says why). */
const PACKET_ID = "packet identifier";
const TOPIC_NAME = "topic name";
const REASON_CODE = "reason code";

function packetId(r: Reader): number {
  const id = r.u16(PACKET_ID);
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
    topic = r.utf8(TOPIC_NAME);
    for (let i = 0; i < topic.length; i++) {
      const c = topic.charCodeAt(i);
      if (c === 0x2b || c === 0x23) throw new MqttProtocolError("topic-name-invalid", "wildcard in topic name"); // §3.3.2.1
    }
  }
  const p: PublishPacket = { type: PUBLISH, topic, payload: EMPTY, qos: qos as QoS, retain: (flags & 1) === 1, dup };
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

export const EMPTY = new Uint8Array(0);
const ACK_TYPES = Object.freeze(["puback", "pubrec", "pubrel", "pubcomp"] as const);

function decodeAck(r: Reader, type: number, v: ProtocolVersion): AckPacket {
  const id = packetId(r);
  let p = r.ack;
  if (p === undefined) p = { type: ACK_TYPES[type - 4], packetId: id, reasonCode: 0 };
  else {
    p.type = ACK_TYPES[type - 4];
    p.packetId = id;
    p.reasonCode = 0;
    p.properties = undefined;
  }
  if (v === 5) {
    // §3.4.2.1: reason code and properties may be omitted
    if (r.remaining() > 0) p.reasonCode = r.u8(REASON_CODE);
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
