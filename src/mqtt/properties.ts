/**
 * MQTT 5 properties (MQTT 5 §2.2.2): one table row per identifier giving its
 * field name, data type and the packets that may carry it. Decoding enforces
 * the rules of §2.2.2.2: an identifier not valid for the packet is a
 * Malformed Packet; a property other than User Property (and Subscription
 * Identifier in PUBLISH, §3.3.2.3.8) given twice is a Protocol Error.
 */
import type { Properties, UserProperty } from "./packets.js";
import { malformed, protocolError } from "./errors.js";
import {
  Reader,
  binarySize,
  stringSize,
  varintLength,
  writeBinary,
  writeString,
  writeU16,
  writeU32,
  writeVarint,
} from "./wire.js";
import { MoteError } from "../errors.js";

/** Data type of a property (§2.2.2.2); small numbers, not strings, to keep the table compact. */
const enum Kind {
  bool,
  byte,
  u16,
  u32,
  varint,
  utf8,
  binary,
  pair,
}

/** Bit (1 << packet type number) per packet; bit 0 stands for the Will Properties. */
const WILL = 1 << 0;
const CONNECT = 1 << 1;
const CONNACK = 1 << 2;
const PUBLISH = 1 << 3;
const PUBACKS = (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7);
const SUBSCRIBE = 1 << 8;
const SUBACK = 1 << 9;
const UNSUBSCRIBE = 1 << 10;
const UNSUBACK = 1 << 11;
const DISCONNECT = 1 << 14;
const AUTH = 1 << 15;
/** Context number for Will Properties in `decodeProperties` / `encodeProperties`. */
export const WILL_CONTEXT = 0;

interface Row {
  readonly id: number;
  readonly key: keyof Properties;
  readonly kind: Kind;
  readonly where: number;
}

function row(id: number, key: keyof Properties, kind: Kind, where: number): Row {
  return Object.freeze({ id, key, kind, where });
}

/** MQTT 5 §2.2.2.2, table 2-4, in identifier order (the order we encode in). */
const ROWS: readonly Row[] = Object.freeze([
  row(0x01, "payloadFormatIndicator", Kind.bool, PUBLISH | WILL),
  row(0x02, "messageExpiryInterval", Kind.u32, PUBLISH | WILL),
  row(0x03, "contentType", Kind.utf8, PUBLISH | WILL),
  row(0x08, "responseTopic", Kind.utf8, PUBLISH | WILL),
  row(0x09, "correlationData", Kind.binary, PUBLISH | WILL),
  row(0x0b, "subscriptionIdentifiers", Kind.varint, PUBLISH | SUBSCRIBE),
  row(0x11, "sessionExpiryInterval", Kind.u32, CONNECT | CONNACK | DISCONNECT),
  row(0x12, "assignedClientIdentifier", Kind.utf8, CONNACK),
  row(0x13, "serverKeepAlive", Kind.u16, CONNACK),
  row(0x15, "authenticationMethod", Kind.utf8, CONNECT | CONNACK | AUTH),
  row(0x16, "authenticationData", Kind.binary, CONNECT | CONNACK | AUTH),
  row(0x17, "requestProblemInformation", Kind.bool, CONNECT),
  row(0x18, "willDelayInterval", Kind.u32, WILL),
  row(0x19, "requestResponseInformation", Kind.bool, CONNECT),
  row(0x1a, "responseInformation", Kind.utf8, CONNACK),
  row(0x1c, "serverReference", Kind.utf8, CONNACK | DISCONNECT),
  row(0x1f, "reasonString", Kind.utf8, CONNACK | PUBACKS | SUBACK | UNSUBACK | DISCONNECT | AUTH),
  row(0x21, "receiveMaximum", Kind.u16, CONNECT | CONNACK),
  row(0x22, "topicAliasMaximum", Kind.u16, CONNECT | CONNACK),
  row(0x23, "topicAlias", Kind.u16, PUBLISH),
  row(0x24, "maximumQoS", Kind.byte, CONNACK),
  row(0x25, "retainAvailable", Kind.bool, CONNACK),
  row(0x26, "userProperties", Kind.pair, 0xffff),
  row(0x27, "maximumPacketSize", Kind.u32, CONNECT | CONNACK),
  row(0x28, "wildcardSubscriptionAvailable", Kind.bool, CONNACK),
  row(0x29, "subscriptionIdentifiersAvailable", Kind.bool, CONNACK),
  row(0x2a, "sharedSubscriptionAvailable", Kind.bool, CONNACK),
]);

const BY_ID: readonly (Row | undefined)[] = (() => {
  const a: (Row | undefined)[] = [];
  for (const r of ROWS) a[r.id] = r;
  return Object.freeze(a);
})();

/** Bytes of the property block without its length prefix. */
export function propertiesBodySize(p: Properties | undefined): number {
  if (p === undefined) return 0;
  let n = 0;
  for (let i = 0; i < ROWS.length; i++) {
    const r = ROWS[i];
    const v = p[r.key];
    if (v === undefined) continue;
    switch (r.kind) {
      case Kind.bool:
      case Kind.byte:
        n += 2;
        break;
      case Kind.u16:
        n += 3;
        break;
      case Kind.u32:
        n += 5;
        break;
      case Kind.varint:
        for (const id of v as number[]) {
          if (!(id >= 1 && id <= 268_435_455)) throw new MoteError("invalid-property", `subscription identifier ${id}`);
          n += 1 + varintLength(id);
        }
        break;
      case Kind.utf8:
        n += 1 + stringSize(v as string);
        break;
      case Kind.binary:
        n += 1 + binarySize(v as Uint8Array);
        break;
      case Kind.pair:
        for (const [k, val] of v as UserProperty[]) n += 1 + stringSize(k) + stringSize(val);
        break;
    }
  }
  return n;
}

/** Size of the whole property block: Variable Byte Integer length + body. */
export function propertiesSize(p: Properties | undefined): number {
  const body = propertiesBodySize(p);
  return varintLength(body) + body;
}

/** Writes the property block (length + body); `body` from `propertiesBodySize`. */
export function writeProperties(p: Properties | undefined, body: number, out: Uint8Array, o: number): number {
  o = writeVarint(body, out, o);
  if (p === undefined) return o;
  for (let i = 0; i < ROWS.length; i++) {
    const r = ROWS[i];
    const v = p[r.key];
    if (v === undefined) continue;
    switch (r.kind) {
      case Kind.bool:
        out[o++] = r.id;
        out[o++] = v ? 1 : 0;
        break;
      case Kind.byte:
        out[o++] = r.id;
        out[o++] = v as number;
        break;
      case Kind.u16:
        out[o++] = r.id;
        o = writeU16(v as number, out, o);
        break;
      case Kind.u32:
        out[o++] = r.id;
        o = writeU32(v as number, out, o);
        break;
      case Kind.varint:
        for (const id of v as number[]) {
          out[o++] = r.id;
          o = writeVarint(id, out, o);
        }
        break;
      case Kind.utf8:
        out[o++] = r.id;
        o = writeString(v as string, out, o);
        break;
      case Kind.binary:
        out[o++] = r.id;
        o = writeBinary(v as Uint8Array, out, o);
        break;
      case Kind.pair:
        for (const [k, val] of v as UserProperty[]) {
          out[o++] = r.id;
          o = writeString(k, out, o);
          o = writeString(val, out, o);
        }
        break;
    }
  }
  return o;
}

/**
 * Reads a property block for packet type `context` (1..15, or WILL_CONTEXT).
 * Returns undefined for an empty block so packets without properties stay small.
 */
export function readProperties(r: Reader, context: number): Properties | undefined {
  const length = r.varint("property length");
  if (length === 0) return undefined;
  if (length > r.remaining()) throw malformed("property length exceeds packet");
  const end = r.pos + length;
  const outerEnd = r.end;
  r.end = end;
  const p: Record<string, unknown> = {};
  const mask = 1 << context;
  while (r.pos < end) {
    const id = r.varint("property identifier");
    const row = BY_ID[id];
    if (row === undefined) throw malformed(`unknown property 0x${id.toString(16)}`);
    if ((row.where & mask) === 0) {
      throw malformed(`property ${row.key} not allowed here`);
    }
    const repeatable = row.kind === Kind.pair || (row.kind === Kind.varint && context === 3);
    if (!repeatable && p[row.key] !== undefined) {
      throw protocolError(`property ${row.key} given twice`);
    }
    switch (row.kind) {
      case Kind.bool: {
        const b = r.u8(row.key);
        // §3.1.2.11.6 ff.: a value other than 0 or 1 is a Protocol Error
        if (b > 1) throw protocolError(`${row.key} must be 0 or 1`);
        p[row.key] = b === 1;
        break;
      }
      case Kind.byte: {
        const b = r.u8(row.key);
        if (b > 1) throw protocolError(`${row.key} must be 0 or 1`); // §3.2.2.3.4
        p[row.key] = b;
        break;
      }
      case Kind.u16: {
        const v = r.u16(row.key);
        // §3.1.2.11.3 / §3.2.2.3.3: Receive Maximum 0 is a Protocol Error; §3.3.2.3.4: Topic Alias 0 too
        if (v === 0 && (id === 0x21 || id === 0x23)) throw protocolError(`${row.key} 0`);
        p[row.key] = v;
        break;
      }
      case Kind.u32: {
        const v = r.u32(row.key);
        if (v === 0 && id === 0x27) throw protocolError("maximumPacketSize 0"); // §3.1.2.11.4
        p[row.key] = v;
        break;
      }
      case Kind.varint: {
        const v = r.varint(row.key);
        if (v === 0) throw protocolError("subscription identifier 0"); // §3.3.2.3.8
        const list = (p[row.key] as number[] | undefined) ?? (p[row.key] = []);
        (list as number[]).push(v);
        break;
      }
      case Kind.utf8:
        p[row.key] = r.utf8(row.key);
        break;
      case Kind.binary:
        p[row.key] = r.binary(row.key);
        break;
      case Kind.pair: {
        const k = r.utf8("user property name");
        const v = r.utf8("user property value");
        const list = (p.userProperties as UserProperty[] | undefined) ?? (p.userProperties = []);
        (list as UserProperty[]).push([k, v]);
        break;
      }
    }
  }
  r.end = outerEnd;
  return p as Properties;
}
