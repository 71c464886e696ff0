/**
 * MQTT client session: a sans-I/O state machine (STYLE.md habit 1).
 *
 * Theory of operation. The binding feeds events — the transport opened,
 * bytes arrived, a timer fired, the app asked to publish/subscribe, the
 * transport closed — with the current monotonic time, and runs the actions
 * returned: bytes to send, deliveries to the app, completions, "persist",
 * "close". `nextDeadline()` tells when to call back with `{ type: "timer" }`.
 * The session owns no socket, no timer, no clock.
 *
 * One state field:
 *   disconnected --open--> connecting --CONNACK ok--> connected
 *   connected --end--> ending (drains in-flight, then DISCONNECT) --> ended
 *   any --transport closed / fault / timeout--> disconnected (or ended)
 *
 * What survives a dropped connection (the "session state", MQTT 5 §4.1):
 * outgoing QoS 1/2 messages not yet completed, incoming QoS 2 packet ids not
 * yet released, the offline queue, and the subscription table. On CONNACK
 * with Session Present the in-flight PUBLISHes are resent with DUP and the
 * PUBRELs re-sent (§4.4); without it, PUBLISH-phase messages are sent again
 * as new and the subscriptions are re-made. `snapshot()` / `restore()` carry
 * that state across a reboot (store.ts).
 *
 * Bounds (all options, defaults below): in-flight window = min(maxInflight,
 * server Receive Maximum) (§4.9); offline queue by count and bytes, with the
 * `queuePolicy` when full; incoming QoS 2 ids by our Receive Maximum (0x93);
 * topic aliases both ways; subscriptions; packet size both ways.
 *
 * The file reads in sections: public surface (handle, deadlines, snapshot),
 * connection (CONNECT, CONNACK, loss, timers, incoming packets), enhanced
 * auth, outgoing publish (queue, window, acknowledgements), incoming publish,
 * subscriptions, end. Beside it: session-types.ts (options, events, actions),
 * connect-packet.ts (the CONNECT it sends), offline-queue.ts (the bounded
 * queue and its policy), aliases.ts (v5 topic aliases), subscriptions.ts
 * (the subscription table and the requests awaiting SUBACK / UNSUBACK).
 */
import { MoteError } from "../errors.js";
import { ClientDecoder, clientPacketSize, encodeClientPacket, publishSize } from "./codec.js";
import { MqttProtocolError } from "./errors.js";
import type {
  AuthPacket,
  ConnackPacket,
  MqttPacket,
  Properties,
  ProtocolVersion,
  PublishPacket,
  QoS,
  Subscription,
} from "./packets.js";
import { connackCodeToV5, reasonName } from "./reason-codes.js";
import { assertTopicName } from "./topic.js";
import { TopicAliases } from "./aliases.js";
import { connectPacket } from "./connect-packet.js";
import { OfflineQueue, messageBytes, type Queued } from "./offline-queue.js";
import { Subscriptions, type Request } from "./subscriptions.js";
import type {
  CloseReason,
  Failure,
  FailureCode,
  OutgoingMessage,
  SessionAction,
  SessionEvent,
  SessionOptions,
  SessionSnapshot,
  SessionState,
} from "./session-types.js";

export type {
  CloseCode,
  CloseReason,
  Failure,
  FailureCode,
  OutgoingMessage,
  QueuePolicy,
  SessionAction,
  SessionEvent,
  SessionOptions,
  SessionSnapshot,
  SessionState,
} from "./session-types.js";

interface Inflight {
  packet: PublishPacket; // topic in full, packetId set
  ref: unknown;
  released: boolean; // QoS 2: PUBREC received, PUBREL sent
  sent: boolean; // on this connection
  dup: boolean; // sent on an earlier connection: a resend carries DUP (§3.3.1.1)
}

export class MqttSession {
  state: SessionState = "disconnected";
  clientId: string;
  readonly version: ProtocolVersion;

  readonly #o: Required<
    Pick<
      SessionOptions,
      | "keepAlive"
      | "connectTimeoutMs"
      | "maxInflight"
      | "receiveMaximum"
      | "maxPacketSize"
      | "topicAliasMaximum"
      | "outgoingTopicAliases"
      | "queueMaxMessages"
      | "queueMaxBytes"
      | "queuePolicy"
      | "maxSubscriptions"
      | "endTimeoutMs"
      | "persistent"
    >
  > & { pingTimeoutMs: number | undefined };
  readonly #options: SessionOptions;
  readonly #decoder: ClientDecoder;
  #clean: boolean;

  // per connection
  #keepAliveMs = 0;
  #lastSent = 0;
  #connectDeadline: number | undefined;
  #pingDeadline: number | undefined;
  #endDeadline: number | undefined;
  #window = 65_535;
  #serverMaxPacket = 268_435_460;
  #serverMaxQoS: QoS = 2;
  #retainAvailable = true;
  readonly #aliases = new TopicAliases();

  // session state
  #inflight = new Map<number, Inflight>();
  #sentCount = 0;
  readonly #queue: OfflineQueue;
  #incoming = new Set<number>();
  /** Subscribed filters and the SUBSCRIBE / UNSUBSCRIBE requests waiting for an answer. */
  readonly #subs: Subscriptions;
  readonly #requests: Map<number, Request>;
  #nextId = 1;
  #dirty = false;
  /** The incoming QoS 2 ids changed (with #dirty): the save may not wait (see "persist"). */
  #incomingDirty = false;
  #actions: SessionAction[] = [];
  /** Some in-flight message may be unsent on this connection (after a reconnect or restore): only then does #pump scan them. */
  #resendDue = false;
  #slab = new Uint8Array(0);
  #slabUsed = SLAB_BYTES; // full: the first packet allocates it

  constructor(options: SessionOptions) {
    this.#options = options;
    this.version = options.protocolVersion ?? 5;
    if (this.version !== 4 && this.version !== 5) throw new MoteError("invalid-option", "protocolVersion must be 4 or 5");
    this.clientId = options.clientId;
    this.#clean = options.clean ?? true;
    const keepAlive = options.keepAlive ?? 60;
    if (!(keepAlive >= 0 && keepAlive <= 65_535)) throw new MoteError("invalid-option", "keepAlive 0..65535 s");
    this.#o = {
      keepAlive,
      pingTimeoutMs: options.pingTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
      maxInflight: positive(options.maxInflight ?? 16, "maxInflight", 65_535),
      receiveMaximum: positive(options.receiveMaximum ?? 64, "receiveMaximum", 65_535),
      maxPacketSize: positive(options.maxPacketSize ?? 16_384, "maxPacketSize", 268_435_460),
      topicAliasMaximum: options.topicAliasMaximum ?? 16,
      outgoingTopicAliases: options.outgoingTopicAliases ?? 16,
      queueMaxMessages: positive(options.queueMaxMessages ?? 100, "queueMaxMessages", 1e6),
      queueMaxBytes: positive(options.queueMaxBytes ?? 65_536, "queueMaxBytes", 1e9),
      queuePolicy: options.queuePolicy ?? "drop-oldest-qos0",
      maxSubscriptions: positive(options.maxSubscriptions ?? 64, "maxSubscriptions", 65_535),
      endTimeoutMs: options.endTimeoutMs ?? 10_000,
      persistent: options.persistent ?? !this.#clean,
    };
    if (this.version === 4 && this.clientId === "" && !this.#clean) {
      throw new MoteError("invalid-option", "3.1.1 needs a client id for a persistent session (§3.1.3.1)");
    }
    this.#decoder = new ClientDecoder({ version: this.version, maxPacketSize: this.#o.maxPacketSize });
    this.#subs = new Subscriptions(this.#o.maxSubscriptions);
    this.#requests = this.#subs.requests;
    this.#queue = new OfflineQueue(this.#o.queueMaxMessages, this.#o.queueMaxBytes, this.#o.queuePolicy);
  }

  // ------------------------------------------------------------ public surface

  /** Feeds one event at time `now`; returns the actions to run, in order. */
  handle(event: SessionEvent, now: number): SessionAction[] {
    const out: SessionAction[] = (this.#actions = []);
    switch (event.type) {
      case "open":
        this.#open(now, event.login);
        break;
      case "bytes":
        this.#bytes(event.data, now);
        break;
      case "timer":
        this.#timer(now);
        break;
      case "closed":
        if (this.state !== "disconnected" && this.state !== "ended") this.#lost(this.state === "ending");
        break;
      case "publish":
        this.#publish(event.message, event.ref, now);
        break;
      case "subscribe":
        this.#subscribe(event.subscriptions, event.properties, event.ref, now);
        break;
      case "unsubscribe":
        this.#unsubscribe(event.filters, event.properties, event.ref, now);
        break;
      case "auth":
        this.#authReply(event.reasonCode, event.data, now);
        break;
      case "end":
        this.#end(event.force ?? false, event.reasonCode ?? 0, now);
        break;
    }
    if (this.#dirty) {
      this.#dirty = false;
      if (this.#o.persistent) out.push(this.#incomingDirty ? { type: "persist", incoming: true } : { type: "persist" });
      this.#incomingDirty = false;
    }
    return out;
  }

  /** The earliest time the session wants a `{ type: "timer" }`, or undefined. */
  nextDeadline(): number | undefined {
    let d: number | undefined;
    const consider = (t: number | undefined) => {
      if (t !== undefined && (d === undefined || t < d)) d = t;
    };
    if (this.state === "connecting") consider(this.#connectDeadline);
    if (this.state === "connected" || this.state === "ending") {
      if (this.#pingDeadline !== undefined) consider(this.#pingDeadline);
      else if (this.#keepAliveMs > 0) consider(this.#lastSent + this.#keepAliveMs);
      consider(this.#endDeadline);
    }
    return d;
  }

  /** Outgoing QoS 1/2 messages awaiting completion. */
  get inflightCount(): number {
    return this.#inflight.size;
  }
  /** Messages waiting in the offline/overflow queue. */
  get queuedCount(): number {
    return this.#queue.length;
  }
  /** Incoming QoS 2 ids held until PUBREL. */
  get incomingCount(): number {
    return this.#incoming.size;
  }
  /** The in-flight window in force: min(maxInflight, server Receive Maximum). */
  get window(): number {
    return Math.min(this.#o.maxInflight, this.#window);
  }

  /** The state worth keeping across a reboot (see SessionSnapshot). */
  snapshot(): SessionSnapshot {
    const outgoing: SessionSnapshot["outgoing"] = [];
    for (const f of this.#inflight.values()) outgoing.push({ packet: f.packet, released: f.released });
    const queued: PublishPacket[] = [];
    for (const q of this.#queue.items) if (q.message.qos > 0) queued.push(q.message);
    return { clientId: this.clientId, outgoing, queued, incoming: Array.from(this.#incoming) };
  }

  /** Loads a snapshot into a fresh session (before the first "open"). Bounds apply: extra queued messages are dropped. */
  restore(s: SessionSnapshot): void {
    if (this.state !== "disconnected" || this.#inflight.size || this.#queue.length) {
      throw new MoteError("invalid-state", "restore() only into a fresh session");
    }
    if (s.clientId) this.clientId = s.clientId;
    for (const o of s.outgoing) {
      const id = o.packet.packetId;
      if (id === undefined || this.#inflight.has(id) || o.packet.qos === 0) continue;
      this.#inflight.set(id, { packet: o.packet, ref: undefined, released: o.released, sent: false, dup: true });
      this.#resendDue = true;
    }
    for (const m of s.queued) if (!this.#queue.addIfRoom(m)) break;
    for (const id of s.incoming) if (this.#incoming.size < this.#o.receiveMaximum) this.#incoming.add(id);
    // the state was kept, so the server may hold the session too (§4.1)
    if (this.#inflight.size || this.#incoming.size) this.#clean = false;
  }

  // ------------------------------------------------------------ connection

  #send(packet: MqttPacket, now: number): void {
    this.#lastSent = now;
    this.#actions.push({ type: "send", data: this.#encode(packet), packet });
  }

  /**
   * A small packet's bytes are a view into a shared slab, not an array of its
   * own: a fresh small Uint8Array per packet was the largest cost of a QoS 1
   * publish on V8 (backing stores over 64 bytes live off the heap) and a chunk
   * per packet on XS. A full slab is let go (views still in use keep it
   * alive), never overwritten, so the bytes of a "send" action stay valid.
   */
  #encode(packet: MqttPacket): Uint8Array {
    const v = this.version;
    const size = packet.type === "publish" ? publishSize(packet, v) : clientPacketSize(packet, v);
    if (size > SLAB_BYTES / 4) return encodeClientPacket(packet, v);
    if (this.#slabUsed + size > SLAB_BYTES) {
      this.#slab = new Uint8Array(SLAB_BYTES);
      this.#slabUsed = 0;
    }
    const data = encodeClientPacket(packet, v, this.#slab, this.#slabUsed);
    this.#slabUsed += data.length;
    return data;
  }

  #open(now: number, login?: { username?: string; password?: string | Uint8Array }): void {
    if (this.state === "ended") throw new MoteError("ended", "the session has ended");
    if (this.state !== "disconnected") throw new MoteError("invalid-state", `open while ${this.state}`);
    const connect = connectPacket(this.#options, this.#o, { version: this.version, clientId: this.clientId, clean: this.#clean, login });
    this.#decoder.reset();
    this.#decoder.version = this.version;
    this.state = "connecting";
    this.#connectDeadline = now + this.#o.connectTimeoutMs;
    this.#pingDeadline = undefined;
    this.#send(connect, now);
  }

  #close(reason: CloseReason, sendDisconnect: number | undefined, now: number): void {
    if (sendDisconnect !== undefined && this.version === 5) {
      this.#send({ type: "disconnect", reasonCode: sendDisconnect }, now);
    }
    this.#lost(this.state === "ending");
    this.#actions.push({ type: "close", reason });
  }

  /** The connection is gone: keep the session state, drop what belonged to the connection. */
  #lost(ended: boolean): void {
    this.state = ended ? "ended" : "disconnected";
    this.#connectDeadline = this.#pingDeadline = this.#endDeadline = undefined;
    this.#aliases.clear();
    this.#sentCount = 0;
    for (const f of this.#inflight.values()) {
      if (f.sent) f.dup = true;
      f.sent = false;
    }
    this.#resendDue = this.#inflight.size > 0;
    for (const r of this.#requests.values()) r.sent = false;
    if (ended) this.#failOnEnd();
  }

  /** At the end: a persistent session keeps its QoS 1/2 messages for a later client (the store); callers learn "ended". */
  #failOnEnd(): void {
    if (!this.#o.persistent) return this.#failAll("ended");
    this.#queue.filter((q) => {
      this.#fail(q.ref, "ended");
      return q.message.qos === 0 ? undefined : { ...q, ref: undefined };
    });
    for (const f of this.#inflight.values()) {
      this.#fail(f.ref, "ended");
      f.ref = undefined;
    }
    for (const r of this.#requests.values()) this.#fail(r.ref, "ended");
    this.#requests.clear();
  }

  #failAll(code: FailureCode): void {
    for (const f of this.#inflight.values()) this.#fail(f.ref, code);
    for (const q of this.#queue.items) this.#fail(q.ref, code);
    for (const r of this.#requests.values()) this.#fail(r.ref, code);
    if (this.#inflight.size || this.#queue.length) this.#dirty = true;
    this.#inflight.clear();
    this.#queue.clear();
    this.#requests.clear();
  }

  #fail(ref: unknown, code: FailureCode, reasonCode?: number, message?: string): void {
    const error: Failure = { code };
    if (reasonCode !== undefined) error.reasonCode = reasonCode;
    if (message !== undefined) error.message = message;
    this.#actions.push({ type: "failed", ref, error });
  }

  #timer(now: number): void {
    if (this.state === "connecting" && this.#connectDeadline !== undefined && now >= this.#connectDeadline) {
      this.#close({ code: "connect-timeout" }, undefined, now);
      return;
    }
    if (this.state !== "connected" && this.state !== "ending") return;
    if (this.#endDeadline !== undefined && now >= this.#endDeadline) {
      this.#finishEnd(now, { code: "end-timeout" });
      return;
    }
    if (this.#pingDeadline !== undefined) {
      // MQTT 5 §3.1.2.10: no PINGRESP "within a reasonable amount of time" — the link is dead
      if (now >= this.#pingDeadline) this.#close({ code: "keepalive-timeout" }, undefined, now);
      return;
    }
    if (this.#keepAliveMs > 0 && now >= this.#lastSent + this.#keepAliveMs) {
      this.#send({ type: "pingreq" }, now);
      this.#pingDeadline = now + (this.#o.pingTimeoutMs ?? Math.min(10_000, this.#keepAliveMs));
    }
  }

  #up(): boolean {
    return this.state === "connecting" || this.state === "connected" || this.state === "ending";
  }

  #bytes(data: Uint8Array, now: number): void {
    if (!this.#up()) return;
    this.#decoder.push(data);
    for (;;) {
      const r = this.#decoder.next();
      if (r === undefined) return;
      if (r instanceof MqttProtocolError) {
        this.#protocolFault(r, now);
        return;
      }
      // any packet from the server shows the link is alive
      this.#pingDeadline = undefined;
      this.#packet(r, now);
      if (!this.#up()) return;
    }
  }

  /** MQTT 5 §4.13: a v5 client sends DISCONNECT with the reason code, then closes; 3.1.1 just closes. */
  #protocolFault(e: MqttProtocolError, now: number): void {
    this.#close({ code: e.code, reasonCode: e.reasonCode, message: e.message }, e.reasonCode, now);
  }

  #fault(code: MqttProtocolError["code"], message: string, now: number): void {
    this.#protocolFault(new MqttProtocolError(code, message), now);
  }

  #packet(p: MqttPacket, now: number): void {
    if (this.state === "connecting") {
      if (p.type === "connack") return this.#connack(p, now);
      if (p.type === "auth" && this.version === 5) return this.#auth(p, now);
      if (p.type === "disconnect") return this.#serverDisconnect(p);
      return this.#fault("protocol-error", `${p.type} before CONNACK`, now); // §3.2: CONNACK comes first
    }
    switch (p.type) {
      case "publish":
        return this.#incomingPublish(p, now);
      case "puback":
      case "pubrec":
      case "pubcomp":
        return this.#ack(p.type, p.packetId, p.reasonCode, p.properties?.reasonString, now);
      case "pubrel": {
        // §4.3.3: release the id; the message was delivered when it arrived
        const known = this.#incoming.delete(p.packetId);
        if (known) this.#dirty = this.#incomingDirty = true;
        this.#send({ type: "pubcomp", packetId: p.packetId, reasonCode: known || this.version === 4 ? 0 : 0x92 }, now);
        return;
      }
      case "suback":
      case "unsuback": {
        const r = this.#subs.answer(p);
        if (r === undefined) return;
        if (p.type === "suback") {
          this.#actions.push({ type: "subscribed", ref: r.ref, reasonCodes: p.reasonCodes });
        } else {
          this.#actions.push({ type: "unsubscribed", ref: r.ref, reasonCodes: p.reasonCodes });
        }
        this.#maybeFinishEnd(now);
        return;
      }
      case "pingresp":
        return;
      case "disconnect":
        return this.#serverDisconnect(p);
      case "auth":
        if (this.version === 5) return this.#auth(p, now);
        return;
      default:
        return this.#fault("protocol-error", `unexpected ${p.type} from server`, now);
    }
  }

  #connack(p: ConnackPacket, now: number): void {
    const five = this.version === 5;
    // MQTT 5 §3.1.4 / §4.13: a server without v5 may refuse a v5 CONNECT with its own
    // CONNACK, a 3.1.1 return code 1..5 (no properties), then close. v5 has no CONNACK
    // reason code between 0x01 and 0x7f, so such a code is read as 3.1.1 (§3.2.2.2).
    const v3 = five && p.reasonCode >= 1 && p.reasonCode <= 5 && p.properties === undefined;
    const code = five && !v3 ? p.reasonCode : connackCodeToV5(p.reasonCode);
    if (code !== 0) {
      const said = v3 ? `${reasonName(code)} (an MQTT 3.1.1 CONNACK, return code ${p.reasonCode})` : reasonName(code);
      const reason: CloseReason = { code: "connect-refused", reasonCode: code, message: p.properties?.reasonString ?? said };
      if (p.properties?.serverReference) reason.serverReference = p.properties.serverReference;
      this.#close(reason, undefined, now);
      return;
    }
    const props = p.properties ?? {};
    this.state = "connected";
    this.#connectDeadline = undefined;
    // v5 §3.2.2.3: the server's limits for this connection
    this.#window = props.receiveMaximum ?? 65_535;
    this.#serverMaxPacket = props.maximumPacketSize ?? 268_435_460;
    this.#serverMaxQoS = (props.maximumQoS ?? 2) as QoS;
    this.#retainAvailable = props.retainAvailable ?? true;
    this.#aliases.start(Math.min(props.topicAliasMaximum ?? 0, this.#o.outgoingTopicAliases));
    this.#keepAliveMs = (props.serverKeepAlive ?? this.#o.keepAlive) * 1000; // §3.2.2.3.14
    if (props.assignedClientIdentifier !== undefined) {
      this.clientId = props.assignedClientIdentifier; // §3.2.2.3.7
      this.#dirty = true;
    }
    const sessionPresent = p.sessionPresent && !this.#clean;
    // §4.4 / §3.2.2.2: with no session at the server, in-flight state is stale
    if (!sessionPresent) {
      const requeue: Queued[] = [];
      for (const f of this.#inflight.values()) {
        if (f.released) this.#actions.push({ type: "published", ref: f.ref, reasonCode: 0 }); // the server had it (PUBREC)
        else requeue.push({ message: { ...f.packet, dup: false, packetId: undefined }, ref: f.ref, bytes: messageBytes(f.packet.topic, f.packet.payload) });
      }
      if (this.#inflight.size) this.#dirty = true;
      this.#inflight.clear();
      this.#queue.addFirst(requeue);
      if (this.#incoming.size) {
        this.#incoming.clear();
        this.#dirty = this.#incomingDirty = true;
      }
    }
    // later reconnects resume this session
    if (this.#o.persistent || (this.#options.sessionExpiry ?? 0) > 0) this.#clean = false;
    this.#actions.push({ type: "connected", sessionPresent, connack: p });
    // resubscribe when the server lost the session; pending requests go out as well
    if (!sessionPresent) this.#subs.resubscribe(() => this.#allocateId());
    for (const r of this.#requests.values()) this.#sendRequest(r, now);
    this.#pump(now);
  }

  #serverDisconnect(p: MqttPacket & { type: "disconnect" }): void {
    const reason: CloseReason = { code: "server-disconnect", reasonCode: p.reasonCode, message: p.properties?.reasonString ?? reasonName(p.reasonCode) };
    if (p.properties?.serverReference) reason.serverReference = p.properties.serverReference;
    this.#lost(this.state === "ending");
    this.#actions.push({ type: "close", reason });
  }

  // ------------------------------------------------------------ enhanced auth (v5 §4.12)

  #auth(p: AuthPacket, now: number): void {
    const method = this.#options.authenticationMethod;
    if (method === undefined || p.properties?.authenticationMethod !== method) {
      return this.#fault("protocol-error", "AUTH without our authentication method", now); // §4.12
    }
    if (p.reasonCode === 0x18 || (p.reasonCode === 0 && this.state === "connected")) {
      this.#actions.push({ type: "auth", packet: p });
    } else if (p.reasonCode !== 0) {
      this.#fault("protocol-error", `AUTH reason 0x${p.reasonCode.toString(16)}`, now);
    }
  }

  #authReply(reasonCode: number, data: Uint8Array | undefined, now: number): void {
    const method = this.#options.authenticationMethod;
    if (method === undefined || this.version !== 5) throw new MoteError("invalid-state", "no authentication method configured");
    if (this.state !== "connecting" && this.state !== "connected") throw new MoteError("invalid-state", `auth while ${this.state}`);
    const properties: Properties = { authenticationMethod: method };
    if (data !== undefined) properties.authenticationData = data;
    this.#send({ type: "auth", reasonCode, properties }, now);
  }

  // ------------------------------------------------------------ outgoing publish

  #publish(m: OutgoingMessage, ref: unknown, now: number): void {
    this.#assertNotEnding();
    assertTopicName(m.topic);
    const qos = m.qos;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new MoteError("invalid-qos", `QoS ${qos}`);
    if (!(m.payload instanceof Uint8Array)) throw new MoteError("invalid-payload", "payload must be a Uint8Array");
    const packet: PublishPacket = { type: "publish", topic: m.topic, payload: m.payload, qos, retain: m.retain ?? false, dup: false };
    if (m.properties !== undefined && this.version === 5) {
      if (m.properties.topicAlias !== undefined) throw new MoteError("invalid-properties", "topic aliases are managed by the session");
      packet.properties = m.properties;
    }
    if (this.state === "connected") {
      const size = publishSize(packet, this.version);
      const refused = this.#refusal(packet, size);
      if (refused === "packet-too-large") return this.#fail(ref, refused, 0x95, `${size} bytes > the server's Maximum Packet Size ${this.#serverMaxPacket} (MQTT 5 §3.2.2.3.6)`);
      if (refused) return this.#fail(ref, refused, refused === "qos-not-supported" ? 0x9b : 0x9a);
      if (this.#queue.length === 0) {
        if (qos === 0) {
          this.#send(this.#aliases.outgoing(packet), now);
          this.#actions.push({ type: "published", ref, reasonCode: 0 });
          return;
        }
        // nothing queued ahead and room in the window: straight out, without a trip through the queue
        if (this.#hasRoom()) {
          const id = this.#allocateId();
          if (id !== undefined) return this.#sendNew(packet, id, ref, now);
        }
      }
    }
    this.#enqueue(packet, ref);
    if (this.state === "connected") this.#pump(now);
  }

  /** Why the server would refuse this message on this connection (v5 §3.2.2.3), if it would. */
  #refusal(p: PublishPacket, size: number): FailureCode | undefined {
    if (size > this.#serverMaxPacket) return "packet-too-large";
    if (p.qos > this.#serverMaxQoS) return "qos-not-supported";
    if (p.retain && !this.#retainAvailable) return "retain-not-supported";
    return undefined;
  }

  #enqueue(message: PublishPacket, ref: unknown): void {
    const refused = this.#queue.add(message, ref, (d) => this.#fail(d.ref, "dropped", undefined, "dropped from a full queue"));
    if (refused === "too-large") return this.#fail(ref, "queue-full", undefined, "message larger than the queue");
    if (refused === "full") return this.#fail(ref, "queue-full");
    if (message.qos > 0) this.#dirty = true;
  }

  /** Sends what the window allows: unsent in-flight first (resends), then the queue, in order. */
  #pump(now: number): void {
    if (this.state !== "connected" && this.state !== "ending") return;
    const window = this.window;
    if (this.#resendDue) this.#resend(window, now);
    for (let q = this.#queue.head; q !== undefined; q = this.#queue.head) {
      const m = q.message;
      if (m.qos > 0 && !this.#hasRoom()) break;
      const refused = this.#refusal(m, publishSize(m, this.version));
      let id: number | undefined;
      if (!refused && m.qos > 0 && (id = this.#allocateId()) === undefined) break;
      this.#queue.shift();
      if (refused) {
        this.#fail(q.ref, refused);
        continue;
      }
      if (m.qos === 0) {
        this.#send(this.#aliases.outgoing(m), now);
        this.#actions.push({ type: "published", ref: q.ref, reasonCode: 0 });
        continue;
      }
      this.#sendNew({ ...m }, id!, q.ref, now); // a copy: a restored message may be the store's own object
    }
  }

  /** Room in the window for one more QoS 1/2 message on this connection (§4.9), and nothing older to resend first. */
  #hasRoom(): boolean {
    const window = this.window;
    return !this.#resendDue && this.#sentCount < window && this.#inflight.size < window;
  }

  /** A QoS 1/2 message gets its packet id and goes out: in flight until acknowledged. */
  #sendNew(packet: PublishPacket, id: number, ref: unknown, now: number): void {
    packet.packetId = id;
    this.#inflight.set(id, { packet, ref, released: false, sent: true, dup: false });
    this.#sentCount++;
    this.#dirty = true;
    this.#send(this.#aliases.outgoing(packet), now);
  }

  /** Sends in-flight messages not yet sent on this connection, in order, as the window allows. */
  #resend(window: number, now: number): void {
    for (const f of this.#inflight.values()) {
      if (f.sent) continue;
      if (this.#sentCount >= window) return; // the rest after the next completion
      f.sent = true;
      this.#sentCount++;
      if (f.released) this.#send({ type: "pubrel", packetId: f.packet.packetId!, reasonCode: 0 }, now);
      else this.#send(this.#aliases.outgoing(f.dup ? { ...f.packet, dup: true } : f.packet), now);
    }
    this.#resendDue = false;
  }

  #allocateId(): number | undefined {
    for (let i = 0; i < 65_535; i++) {
      const id = this.#nextId;
      this.#nextId = id === 65_535 ? 1 : id + 1;
      if (!this.#inflight.has(id) && !this.#requests.has(id)) return id;
    }
    return undefined;
  }

  #ack(type: "puback" | "pubrec" | "pubcomp", id: number, reasonCode: number, reasonString: string | undefined, now: number): void {
    const f = this.#inflight.get(id);
    if (type === "pubrec") {
      if (f === undefined || f.packet.qos !== 2) {
        // §4.3.3: answer an unknown PUBREC so the server can finish
        this.#send({ type: "pubrel", packetId: id, reasonCode: this.version === 5 ? 0x92 : 0 }, now);
        return;
      }
      if (reasonCode >= 0x80) return this.#complete(id, f, reasonCode, reasonString, now); // §4.3.3: no PUBREL after a failure code
      f.released = true;
      this.#dirty = true;
      this.#send({ type: "pubrel", packetId: id, reasonCode: 0 }, now);
      return;
    }
    if (f === undefined) return;
    if (type === "puback" && f.packet.qos === 2 && !f.released) {
      // §4.3.3 has no PUBACK for QoS 2, yet a broker without QoS 2 (RabbitMQ 3.10's
      // MQTT plugin) answers one: it took the message at QoS 1. Waiting for a PUBREC
      // that never comes would hang the sender; the message is not sent again (the
      // broker has it) and its request fails with what happened.
      this.#inflight.delete(id);
      if (f.sent) this.#sentCount--;
      this.#dirty = true;
      this.#fail(f.ref, "qos-not-supported", undefined, "the broker answered the QoS 2 PUBLISH with PUBACK: it took the message at QoS 1 and has no QoS 2");
      this.#pump(now);
      this.#maybeFinishEnd(now);
      return;
    }
    if (type === "puback" ? f.packet.qos !== 1 : !f.released) return; // an ack for another phase: ignore
    this.#complete(id, f, reasonCode, reasonString, now);
  }

  #complete(id: number, f: Inflight, reasonCode: number, reasonString: string | undefined, now: number): void {
    this.#inflight.delete(id);
    if (f.sent) this.#sentCount--;
    // No save of its own: the next change saves the session without this
    // message. Flash writes per QoS 1 message halve (NVS wear); if power is cut
    // first, the stored session still holds it and it goes again after the
    // reboot — a QoS 1 duplicate, which §4.3.2 allows; for QoS 2 only the
    // PUBREL is repeated, and the server's PUBCOMP ends it (below).
    // §3.7.2.1: PUBCOMP 0x92 "Packet Identifier not found" after our PUBREL is
    // "not an error during recovery": the server had the message (PUBREC) and
    // has already forgotten the id.
    const recovered = f.released && reasonCode === 0x92;
    if (reasonCode >= 0x80 && !recovered) this.#fail(f.ref, "rejected", reasonCode, reasonString ?? reasonName(reasonCode));
    else this.#actions.push({ type: "published", ref: f.ref, reasonCode });
    this.#pump(now);
    this.#maybeFinishEnd(now);
  }

  // ------------------------------------------------------------ incoming publish

  #incomingPublish(p: PublishPacket, now: number): void {
    const aliasFault = this.#aliases.incoming(p, this.#o.topicAliasMaximum);
    if (aliasFault !== undefined) return this.#fault(aliasFault, `topic alias ${p.properties!.topicAlias}`, now);
    if (p.qos === 0) {
      this.#actions.push({ type: "message", packet: p });
      return;
    }
    const id = p.packetId!;
    if (p.qos === 1) {
      this.#actions.push({ type: "message", packet: p });
      this.#send({ type: "puback", packetId: id, reasonCode: 0 }, now);
      return;
    }
    // QoS 2, §4.3.3 method B: deliver once, hold the id until PUBREL
    if (!this.#incoming.has(id)) {
      if (this.#incoming.size >= this.#o.receiveMaximum) {
        return this.#fault("receive-maximum-exceeded", `more than ${this.#o.receiveMaximum} QoS 2 messages held`, now); // §4.9
      }
      this.#incoming.add(id);
      this.#dirty = this.#incomingDirty = true;
      this.#actions.push({ type: "message", packet: p });
    }
    this.#send({ type: "pubrec", packetId: id, reasonCode: 0 }, now);
  }

  // ------------------------------------------------------------ subscriptions

  #subscribe(subscriptions: Subscription[], properties: Properties | undefined, ref: unknown, now: number): void {
    this.#assertNotEnding();
    this.#subs.checkSubscribe(subscriptions);
    this.#addRequest({ kind: "subscribe", packetId: this.#requestId(), ref, subscriptions, sent: false }, properties, now);
  }

  #unsubscribe(filters: string[], properties: Properties | undefined, ref: unknown, now: number): void {
    this.#assertNotEnding();
    this.#subs.checkUnsubscribe(filters);
    this.#addRequest({ kind: "unsubscribe", packetId: this.#requestId(), ref, filters, sent: false }, properties, now);
  }

  #addRequest(r: Request, properties: Properties | undefined, now: number): void {
    if (properties && this.version === 5) r.properties = properties;
    this.#subs.add(r);
    this.#sendRequest(r, now);
  }

  #assertNotEnding(): void {
    if (this.state === "ending" || this.state === "ended") throw new MoteError("ended", "the client is ending");
  }

  #requestId(): number {
    const id = this.#allocateId();
    if (id === undefined) throw new MoteError("no-packet-id", "all packet identifiers in use");
    return id;
  }

  #sendRequest(r: Request, now: number): void {
    if (this.state !== "connected" || r.sent) return;
    r.sent = true;
    if (r.kind === "subscribe") {
      this.#send({ type: "subscribe", packetId: r.packetId, subscriptions: r.subscriptions!, ...(r.properties && { properties: r.properties }) }, now);
    } else {
      this.#send({ type: "unsubscribe", packetId: r.packetId, filters: r.filters!, ...(r.properties && { properties: r.properties }) }, now);
    }
  }

  // ------------------------------------------------------------ end

  #end(force: boolean, reasonCode: number, now: number): void {
    if (this.state === "ended") return;
    if (this.state !== "connected" && this.state !== "ending") {
      this.#lost(true);
      this.#actions.push({ type: "close", reason: { code: "client-disconnect" } });
      return;
    }
    this.#endReason = reasonCode;
    this.state = "ending";
    if (force) return this.#finishEnd(now, { code: "client-disconnect" });
    this.#endDeadline = now + this.#o.endTimeoutMs;
    this.#maybeFinishEnd(now);
  }
  #endReason = 0;

  #maybeFinishEnd(now: number): void {
    if (this.state !== "ending") return;
    if (this.#inflight.size === 0 && this.#queue.length === 0 && this.#requests.size === 0) {
      this.#finishEnd(now, { code: "client-disconnect" });
    }
  }

  #finishEnd(now: number, reason: CloseReason): void {
    // §3.14: DISCONNECT (3.1.1 has no reason code; the will is discarded unless 0x04)
    this.#send(this.version === 5 && this.#endReason !== 0 ? { type: "disconnect", reasonCode: this.#endReason } : { type: "disconnect", reasonCode: 0 }, now);
    this.#lost(true);
    this.#actions.push({ type: "close", reason });
  }
}

/** Bytes of one encoding slab (see #encode); packets over a quarter of it get an array of their own. */
const SLAB_BYTES = 512;

function positive(n: number, name: string, max: number): number {
  if (!(n >= 1 && n <= max)) throw new MoteError("invalid-option", `${name} must be 1..${max}`);
  return Math.floor(n);
}

