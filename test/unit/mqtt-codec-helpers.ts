/** Shared by the MQTT codec tests: a seeded PRNG, random packets, and the mapping to mqtt-packet's object shape. */
import type { MqttPacket, Properties, ProtocolVersion, QoS } from "../../src/mqtt/packets.js";
export { seededRandom as prng } from "../../src/util/prng.js";


export class Gen {
  constructor(readonly rnd: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  bool(): boolean {
    return this.rnd() < 0.5;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(0, a.length - 1)];
  }
  bytes(max: number): Uint8Array {
    const n = this.int(0, max);
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
  text(max: number, alphabet = "abcXYZ019/_-é€😀 "): string {
    const chars = Array.from(alphabet);
    let s = "";
    const n = this.int(0, max);
    for (let i = 0; i < n; i++) s += this.pick(chars);
    return s;
  }
  topic(): string {
    return this.pick(["a", "sensors"]) + "/" + this.text(12, "abcé€😀019_-") + (this.bool() ? "/x" : "");
  }
  filter(): string {
    return this.pick(["a/+/c", "#", "sensors/#", "+", "x/y", "t/€/😀", "$SYS/#", "a/b/+"]);
  }
  qos(): QoS {
    return this.int(0, 2) as QoS;
  }
  id(): number {
    return this.int(1, 65535);
  }
  userProps(): [string, string][] {
    const n = this.int(1, 3);
    const out: [string, string][] = [];
    // one name per entry keeps mqtt-packet's object form order-preserving
    for (let i = 0; i < n; i++) out.push([`k${i}${this.text(3)}`, this.text(6)]);
    return out;
  }
  /** Random properties from `keys`, each present with probability 1/2. */
  props(keys: (keyof Properties)[]): Properties | undefined {
    const p: Record<string, unknown> = {};
    for (const k of keys) {
      if (!this.bool()) continue;
      p[k] = this.propValue(k);
    }
    return Object.keys(p).length ? (p as Properties) : undefined;
  }
  propValue(k: keyof Properties): unknown {
    switch (k) {
      case "payloadFormatIndicator":
      case "requestProblemInformation":
      case "requestResponseInformation":
      case "retainAvailable":
      case "wildcardSubscriptionAvailable":
      case "subscriptionIdentifiersAvailable":
      case "sharedSubscriptionAvailable":
        return this.bool();
      case "maximumQoS":
        return this.int(0, 1);
      case "messageExpiryInterval":
      case "sessionExpiryInterval":
      case "willDelayInterval":
        return this.int(0, 0xffffffff);
      case "maximumPacketSize":
        return this.int(1, 0xffffffff);
      case "serverKeepAlive":
        return this.int(0, 65535);
      case "receiveMaximum":
      case "topicAliasMaximum":
      case "topicAlias":
        return this.int(1, 65535);
      case "subscriptionIdentifiers":
        return [this.int(1, 268435455)];
      case "correlationData":
      case "authenticationData":
        return this.bytes(20);
      case "userProperties":
        return this.userProps();
      default:
        return this.text(10);
    }
  }
}

const CONNECT_PROPS: (keyof Properties)[] = [
  "sessionExpiryInterval", "receiveMaximum", "maximumPacketSize", "topicAliasMaximum",
  "requestResponseInformation", "requestProblemInformation", "userProperties", "authenticationMethod", "authenticationData",
];
const WILL_PROPS: (keyof Properties)[] = [
  "willDelayInterval", "payloadFormatIndicator", "messageExpiryInterval", "contentType", "responseTopic", "correlationData", "userProperties",
];
const CONNACK_PROPS: (keyof Properties)[] = [
  "sessionExpiryInterval", "receiveMaximum", "maximumQoS", "retainAvailable", "maximumPacketSize", "assignedClientIdentifier",
  "topicAliasMaximum", "reasonString", "userProperties", "wildcardSubscriptionAvailable", "subscriptionIdentifiersAvailable",
  "sharedSubscriptionAvailable", "serverKeepAlive", "responseInformation", "serverReference", "authenticationMethod", "authenticationData",
];
const PUBLISH_PROPS: (keyof Properties)[] = [
  "payloadFormatIndicator", "messageExpiryInterval", "topicAlias", "responseTopic", "correlationData", "userProperties",
  "subscriptionIdentifiers", "contentType",
];
const ACK_PROPS: (keyof Properties)[] = ["reasonString", "userProperties"];

export const PACKET_TYPES = [
  "connect", "connack", "publish", "puback", "pubrec", "pubrel", "pubcomp", "subscribe", "suback",
  "unsubscribe", "unsuback", "pingreq", "pingresp", "disconnect", "auth",
] as const;

/** A random valid packet of `type` for protocol `v`. */
export function randomPacket(g: Gen, type: (typeof PACKET_TYPES)[number], v: ProtocolVersion): MqttPacket {
  const five = v === 5;
  switch (type) {
    case "connect": {
      // 3.1.1 §3.1.3.1: an empty client id needs clean session (mqtt-packet enforces it for both versions)
      const clean = g.bool();
      const p: MqttPacket = { type, protocolVersion: v, clientId: clean ? g.text(23) : "c" + g.text(22), clean, keepAlive: g.int(0, 65535) };
      if (g.bool()) p.username = g.text(10);
      // v5 allows a password alone (§3.1.2.9) but mqtt-packet refuses to write one; that case is tested on its own
      if (g.bool() && p.username !== undefined) p.password = g.bytes(12);
      if (g.bool()) {
        p.will = { topic: g.topic(), payload: g.bytes(30), qos: g.qos(), retain: g.bool() };
        if (five) {
          const wp = g.props(WILL_PROPS);
          if (wp) p.will.properties = wp;
        }
      }
      if (five) {
        const pp = g.props(CONNECT_PROPS);
        if (pp) p.properties = pp;
      }
      return p;
    }
    case "connack": {
      const p: MqttPacket = { type, sessionPresent: g.bool(), reasonCode: five ? g.pick([0, 0x80, 0x85, 0x87, 0x97]) : g.int(0, 5) };
      if (five) {
        const pp = g.props(CONNACK_PROPS);
        if (pp) p.properties = pp;
      }
      return p;
    }
    case "publish": {
      const qos = g.qos();
      const p: MqttPacket = { type, topic: g.topic(), payload: g.bytes(g.bool() ? 40 : 300), qos, retain: g.bool(), dup: qos > 0 && g.bool() };
      if (qos > 0) p.packetId = g.id();
      if (five) {
        const pp = g.props(PUBLISH_PROPS);
        if (pp) p.properties = pp;
      }
      return p;
    }
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp": {
      const codes = type === "pubrel" || type === "pubcomp" ? [0, 0x92] : [0, 0x10, 0x80, 0x87, 0x97];
      const p: MqttPacket = { type, packetId: g.id(), reasonCode: five ? g.pick(codes) : 0 };
      if (five) {
        const pp = g.props(ACK_PROPS);
        if (pp) p.properties = pp;
      }
      return p;
    }
    case "subscribe": {
      const n = g.int(1, 3);
      const subs = [];
      for (let i = 0; i < n; i++) {
        const s: { filter: string; qos: QoS; noLocal?: boolean; retainAsPublished?: boolean; retainHandling?: 0 | 1 | 2 } = { filter: g.filter(), qos: g.qos() };
        if (five) {
          s.noLocal = g.bool();
          s.retainAsPublished = g.bool();
          s.retainHandling = g.int(0, 2) as 0 | 1 | 2;
        }
        subs.push(s);
      }
      const p: MqttPacket = { type, packetId: g.id(), subscriptions: subs };
      if (five) {
        const pp = g.props(["subscriptionIdentifiers", "userProperties"]);
        if (pp) p.properties = pp;
      }
      return p;
    }
    case "suback": {
      const n = g.int(1, 4);
      const codes = [];
      for (let i = 0; i < n; i++) codes.push(g.pick(five ? [0, 1, 2, 0x80, 0x87, 0x8f, 0xa2] : [0, 1, 2, 0x80]));
      const p: MqttPacket = { type, packetId: g.id(), reasonCodes: codes };
      if (five) {
        const pp = g.props(ACK_PROPS);
        if (pp) p.properties = pp;
      }
      return p;
    }
    case "unsubscribe": {
      const n = g.int(1, 3);
      const filters = [];
      for (let i = 0; i < n; i++) filters.push(g.filter());
      const p: MqttPacket = { type, packetId: g.id(), filters };
      if (five) {
        const pp = g.props(["userProperties"]);
        if (pp) p.properties = pp;
      }
      return p;
    }
    case "unsuback": {
      const codes = [];
      if (five) for (let i = g.int(1, 3); i > 0; i--) codes.push(g.pick([0, 0x11, 0x80, 0x87]));
      const p: MqttPacket = { type, packetId: g.id(), reasonCodes: codes };
      if (five) {
        const pp = g.props(ACK_PROPS);
        if (pp) p.properties = pp;
      }
      return p;
    }
    case "pingreq":
    case "pingresp":
      return { type };
    case "disconnect": {
      const p: MqttPacket = { type, reasonCode: five ? g.pick([0, 0x04, 0x80, 0x8b, 0x8e, 0x9c]) : 0 };
      if (five) {
        const pp = g.props(["sessionExpiryInterval", "reasonString", "userProperties", "serverReference"]);
        if (pp) p.properties = pp;
      }
      return p;
    }
    case "auth": {
      const p: MqttPacket = { type, reasonCode: g.pick([0, 0x18, 0x19]) };
      const pp = g.props(["authenticationMethod", "authenticationData", "reasonString", "userProperties"]);
      if (pp) p.properties = pp;
      return p;
    }
  }
}

type Obj = Record<string, unknown>;

function peerProps(p: Properties | undefined): Obj | undefined {
  if (p === undefined) return undefined;
  const o: Obj = {};
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined) continue;
    if (k === "userProperties") {
      const up: Record<string, string | string[]> = {};
      for (const [name, value] of v as [string, string][]) {
        const prev = up[name];
        up[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
      }
      o.userProperties = up;
    } else if (k === "subscriptionIdentifiers") {
      const ids = v as number[];
      o.subscriptionIdentifier = ids.length === 1 ? ids[0] : ids;
    } else o[k] = v;
  }
  return o;
}

/** Our packet in mqtt-packet's object shape (input for generate, and for comparing its parse). */
export function toPeer(p: MqttPacket, v: ProtocolVersion): Obj {
  const o: Obj = { cmd: p.type };
  switch (p.type) {
    case "connect":
      Object.assign(o, { protocolId: "MQTT", protocolVersion: v, clean: p.clean, clientId: p.clientId, keepalive: p.keepAlive });
      if (p.username !== undefined) o.username = p.username;
      if (p.password !== undefined) o.password = p.password;
      if (p.will) {
        const w: Obj = { topic: p.will.topic, payload: p.will.payload, qos: p.will.qos, retain: p.will.retain };
        if (p.will.properties) w.properties = peerProps(p.will.properties);
        o.will = w;
      }
      break;
    case "connack":
      o.sessionPresent = p.sessionPresent;
      if (v === 5) o.reasonCode = p.reasonCode;
      else o.returnCode = p.reasonCode;
      break;
    case "publish":
      Object.assign(o, { topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain, dup: p.dup });
      if (p.packetId !== undefined) o.messageId = p.packetId;
      break;
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      o.messageId = p.packetId;
      if (v === 5) o.reasonCode = p.reasonCode;
      break;
    case "subscribe":
      o.messageId = p.packetId;
      o.subscriptions = p.subscriptions.map((s) =>
        v === 5 ? { topic: s.filter, qos: s.qos, nl: !!s.noLocal, rap: !!s.retainAsPublished, rh: s.retainHandling ?? 0 } : { topic: s.filter, qos: s.qos },
      );
      break;
    case "suback":
      o.messageId = p.packetId;
      o.granted = p.reasonCodes;
      break;
    case "unsubscribe":
      o.messageId = p.packetId;
      o.unsubscriptions = p.filters;
      break;
    case "unsuback":
      o.messageId = p.packetId;
      if (v === 5) o.granted = p.reasonCodes;
      break;
    case "disconnect":
    case "auth":
      if (v === 5) o.reasonCode = p.reasonCode;
      break;
  }
  if ("properties" in p && p.properties !== undefined && v === 5) o.properties = peerProps(p.properties);
  return o;
}

/** Canonical form for comparing: bytes as hex, no undefined/null/length fields, only the keys `keep` lists. */
export function canon(x: unknown): unknown {
  if (x instanceof Uint8Array) return "0x" + Array.from(x, (b) => b.toString(16).padStart(2, "0")).join("");
  if (Array.isArray(x)) return x.map(canon);
  if (x && typeof x === "object") {
    const out: Obj = {};
    for (const k of Object.keys(x).sort()) {
      const v = (x as Obj)[k];
      if (v === undefined || v === null || k === "length") continue;
      out[k] = canon(v);
    }
    return out;
  }
  return x;
}
