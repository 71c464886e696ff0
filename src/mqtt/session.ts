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
 * auth, incoming publish, subscriptions, end. Outgoing publishes are handed
 * to publish-window.ts (the queue, the in-flight window, packet ids and the
 * PUBACK / PUBREC / PUBCOMP exchange). Also beside it: session-types.ts
 * (options, events, actions), session-output.ts (the actions of one handle()
 * call, each packet's bytes), offline-queue.ts (the bounded queue and its
 * policy), connect-packet.ts (the CONNECT it sends), aliases.ts (v5 topic
 * aliases), subscriptions.ts (the subscription table and the requests
 * awaiting SUBACK / UNSUBACK).
 */
import { MoteError } from "../errors.js";
import { ClientDecoder } from "./codec.js";
import { MqttProtocolError } from "./errors.js";
import type {
  AuthPacket,
  ConnackPacket,
  MqttPacket,
  Properties,
  ProtocolVersion,
  PublishPacket,
  Subscription,
} from "./packets.js";
import { connackCodeToV5, reasonName } from "./reason-codes.js";
import { TopicAliases } from "./aliases.js";
import { connectPacket } from "./connect-packet.js";
import { PublishWindow } from "./publish-window.js";
import { NO_ACTIONS, SessionOutput } from "./session-output.js";
import { Subscriptions, type Request } from "./subscriptions.js";
import type {
  CloseReason,
  SessionAction,
  SessionEvent,
  SessionOptions,
  SessionSnapshot,
  SessionState,
} from "./session-types.js";

/** The "persist" actions, made once: an object per publish and per acknowledgement was garbage on XS. */
const PERSIST_ACTION: SessionAction = Object.freeze({ type: PERSIST });
const PERSIST_INCOMING_ACTION: SessionAction = Object.freeze({ type: PERSIST, incoming: true });

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
import { AUTH, BYTES, CLOSE, CLOSED, CONNACK, CONNECTED, CONNECTING, DISCONNECT, DISCONNECTED, END, ENDED, ENDING, MESSAGE, OPEN, PERSIST, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, SUBACK, SUBSCRIBE, SUBSCRIBED, TIMER, UNSUBACK, UNSUBSCRIBE, UNSUBSCRIBED } from "./names.js";

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

  /** The actions of the handle() call in progress, when a packet last went out, whether the session state changed. */
  readonly #out: SessionOutput;

  // per connection
  #keepAliveMs = 0;
  #connectDeadline: number | undefined;
  #pingDeadline: number | undefined;
  #endDeadline: number | undefined;
  readonly #aliases = new TopicAliases();

  // session state
  /** Outgoing PUBLISHes: the queue and the in-flight window. */
  readonly #publishes: PublishWindow;
  #incoming = new Set<number>();
  /** Subscribed filters and the SUBSCRIBE / UNSUBSCRIBE requests waiting for an answer. */
  readonly #subs: Subscriptions;
  readonly #requests: Map<number, Request>;
  /** The incoming QoS 2 ids changed (with the output's dirty): the save may not wait (see "persist"). */
  #incomingDirty = false;

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
    this.#out = new SessionOutput(this.version);
    this.#subs = new Subscriptions(this.#o.maxSubscriptions);
    this.#requests = this.#subs.requests;
    this.#publishes = new PublishWindow(this.#out, this.version, this.#aliases, this.#requests, this.#o);
  }

  // ------------------------------------------------------------ public surface

  /** Feeds one event at time `now`; returns the actions to run, in order (none: a shared frozen empty array). */
  handle(event: SessionEvent, now: number): SessionAction[] {
    const out = this.#out;
    out.actions = NO_ACTIONS;
    switch (event.type) {
      case OPEN:
        this.#open(now, event.login);
        break;
      case BYTES:
        this.#bytes(event.data, event.borrowed === true, now);
        break;
      case TIMER:
        this.#timer(now);
        break;
      case CLOSED:
        if (this.state !== DISCONNECTED && this.state !== ENDED) this.#lost(this.state === ENDING);
        break;
      case PUBLISH:
        this.#assertNotEnding();
        this.#publishes.publish(event.message, event.ref, this.state === CONNECTED, now);
        break;
      case SUBSCRIBE:
        this.#subscribe(event.subscriptions, event.properties, event.ref, now);
        break;
      case UNSUBSCRIBE:
        this.#unsubscribe(event.filters, event.properties, event.ref, now);
        break;
      case AUTH:
        this.#authReply(event.reasonCode, event.data, now);
        break;
      case END:
        this.#end(event.force ?? false, event.reasonCode ?? 0, now);
        break;
    }
    if (out.dirty) {
      out.dirty = false;
      if (this.#o.persistent) out.push(this.#incomingDirty ? PERSIST_INCOMING_ACTION : PERSIST_ACTION);
      this.#incomingDirty = false;
    }
    return out.actions;
  }

  /** The earliest time the session wants a `{ type: "timer" }`, or undefined. */
  nextDeadline(): number | undefined {
    // no helper closure: this runs after every event, and a closure a call was garbage on XS
    if (this.state === CONNECTING) return this.#connectDeadline;
    if (this.state !== CONNECTED && this.state !== ENDING) return undefined;
    const link = this.#pingDeadline ?? (this.#keepAliveMs > 0 ? this.#out.lastSent + this.#keepAliveMs : undefined);
    const end = this.#endDeadline;
    return link === undefined || (end !== undefined && end < link) ? end : link;
  }

  /** Outgoing QoS 1/2 messages awaiting completion. */
  get inflightCount(): number {
    return this.#publishes.inflightCount;
  }
  /** Messages waiting in the offline/overflow queue. */
  get queuedCount(): number {
    return this.#publishes.queuedCount;
  }
  /** When the oldest outgoing QoS 1/2 message still held that this session took at or after `since` was taken (`now` of its publish); undefined when none. */
  oldestTakenSince(since: number): number | undefined {
    return this.#publishes.oldestTakenSince(since);
  }
  /** Incoming QoS 2 ids held until PUBREL. */
  get incomingCount(): number {
    return this.#incoming.size;
  }
  /** The in-flight window in force: min(maxInflight, server Receive Maximum). */
  get window(): number {
    return this.#publishes.window;
  }

  /** The state worth keeping across a reboot (see SessionSnapshot). */
  snapshot(): SessionSnapshot {
    return { clientId: this.clientId, ...this.#publishes.snapshot(), incoming: Array.from(this.#incoming) };
  }

  /**
   * The QoS 1/2 messages held (in flight, then queued), to count or size them
   * now: their payloads may be views that the next handle() writes again. To
   * keep them, snapshot().
   */
  held(): Pick<SessionSnapshot, "outgoing" | "queued"> {
    return this.#publishes.snapshot(true);
  }

  /** Loads a snapshot into a fresh session (before the first "open"). Bounds apply: extra queued messages are dropped. */
  restore(s: SessionSnapshot): void {
    if (this.state !== DISCONNECTED || !this.#publishes.idle) {
      throw new MoteError("invalid-state", "restore() only into a fresh session");
    }
    if (s.clientId) this.clientId = s.clientId;
    this.#publishes.restore(s);
    for (const id of s.incoming) if (this.#incoming.size < this.#o.receiveMaximum) this.#incoming.add(id);
    // the state was kept, so the server may hold the session too (§4.1)
    if (this.#publishes.inflightCount || this.#incoming.size) this.#clean = false;
  }

  // ------------------------------------------------------------ connection

  #open(now: number, login?: { username?: string; password?: string | Uint8Array }): void {
    if (this.state === ENDED) throw new MoteError("ended", "the session has ended");
    if (this.state !== DISCONNECTED) throw new MoteError("invalid-state", `open while ${this.state}`);
    const connect = connectPacket(this.#options, this.#o, { version: this.version, clientId: this.clientId, clean: this.#clean, login });
    this.#decoder.reset();
    this.#decoder.version = this.version;
    this.state = CONNECTING;
    this.#connectDeadline = now + this.#o.connectTimeoutMs;
    this.#pingDeadline = undefined;
    this.#out.send(connect, now);
  }

  #close(reason: CloseReason, sendDisconnect: number | undefined, now: number): void {
    if (sendDisconnect !== undefined && this.version === 5) {
      this.#out.send({ type: DISCONNECT, reasonCode: sendDisconnect }, now);
    }
    this.#lost(this.state === ENDING);
    this.#out.push({ type: CLOSE, reason });
  }

  /** The connection is gone: keep the session state, drop what belonged to the connection. */
  #lost(ended: boolean): void {
    this.state = ended ? ENDED : DISCONNECTED;
    this.#connectDeadline = this.#pingDeadline = this.#endDeadline = undefined;
    this.#aliases.clear();
    this.#publishes.lost();
    for (const r of this.#requests.values()) r.sent = false;
    if (ended) this.#failOnEnd();
  }

  /** At the end: a persistent session keeps its QoS 1/2 messages for a later client (the store); callers learn "ended". */
  #failOnEnd(): void {
    this.#publishes.end();
    for (const r of this.#requests.values()) this.#out.fail(r.ref, "ended");
    this.#requests.clear();
  }

  #timer(now: number): void {
    if (this.state === CONNECTING && this.#connectDeadline !== undefined && now >= this.#connectDeadline) {
      this.#close({ code: "connect-timeout" }, undefined, now);
      return;
    }
    if (this.state !== CONNECTED && this.state !== ENDING) return;
    if (this.#endDeadline !== undefined && now >= this.#endDeadline) {
      this.#finishEnd(now, { code: "end-timeout" });
      return;
    }
    if (this.#pingDeadline !== undefined) {
      // MQTT 5 §3.1.2.10: no PINGRESP "within a reasonable amount of time" — the link is dead
      if (now >= this.#pingDeadline) this.#close({ code: "keepalive-timeout" }, undefined, now);
      return;
    }
    if (this.#keepAliveMs > 0 && now >= this.#out.lastSent + this.#keepAliveMs) {
      this.#out.send({ type: PINGREQ }, now);
      this.#pingDeadline = now + (this.#o.pingTimeoutMs ?? Math.min(10_000, this.#keepAliveMs));
    }
  }

  #up(): boolean {
    return this.state === CONNECTING || this.state === CONNECTED || this.state === ENDING;
  }

  #bytes(data: Uint8Array, borrowed: boolean, now: number): void {
    if (!this.#up()) return;
    const decoder = this.#decoder;
    decoder.push(data, borrowed);
    try {
      for (;;) {
        const r = decoder.next();
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
    } finally {
      decoder.keep(); // a part packet of a borrowed read is copied: the caller reuses its array
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
    if (this.state === CONNECTING) {
      if (p.type === CONNACK) return this.#connack(p, now);
      if (p.type === AUTH && this.version === 5) return this.#auth(p, now);
      if (p.type === DISCONNECT) return this.#serverDisconnect(p);
      return this.#fault("protocol-error", `${p.type} before CONNACK`, now); // §3.2: CONNACK comes first
    }
    switch (p.type) {
      case PUBLISH:
        return this.#incomingPublish(p, now);
      case PUBACK:
      case PUBREC:
      case PUBCOMP:
        if (this.#publishes.ack(p, now)) this.#maybeFinishEnd(now);
        return;
      case PUBREL: {
        // §4.3.3: release the id; the message was delivered when it arrived
        const known = this.#incoming.delete(p.packetId);
        if (known) this.#out.dirty = this.#incomingDirty = true;
        this.#out.send({ type: PUBCOMP, packetId: p.packetId, reasonCode: known || this.version === 4 ? 0 : 0x92 }, now);
        return;
      }
      case SUBACK:
      case UNSUBACK: {
        const r = this.#subs.answer(p);
        if (r === undefined) return;
        if (p.type === SUBACK) {
          this.#out.push({ type: SUBSCRIBED, ref: r.ref, reasonCodes: p.reasonCodes });
        } else {
          this.#out.push({ type: UNSUBSCRIBED, ref: r.ref, reasonCodes: p.reasonCodes });
        }
        this.#maybeFinishEnd(now);
        return;
      }
      case PINGRESP:
        return;
      case DISCONNECT:
        return this.#serverDisconnect(p);
      case AUTH:
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
    this.state = CONNECTED;
    this.#connectDeadline = undefined;
    // v5 §3.2.2.3: the server's limits for this connection
    this.#publishes.start(props);
    this.#aliases.start(Math.min(props.topicAliasMaximum ?? 0, this.#o.outgoingTopicAliases));
    this.#keepAliveMs = (props.serverKeepAlive ?? this.#o.keepAlive) * 1000; // §3.2.2.3.14
    if (props.assignedClientIdentifier !== undefined) {
      this.clientId = props.assignedClientIdentifier; // §3.2.2.3.7
      this.#out.dirty = true;
    }
    const sessionPresent = p.sessionPresent && !this.#clean;
    // §4.4 / §3.2.2.2: with no session at the server, in-flight state is stale
    if (!sessionPresent) {
      this.#publishes.requeue();
      if (this.#incoming.size) {
        this.#incoming.clear();
        this.#out.dirty = this.#incomingDirty = true;
      }
    }
    // later reconnects resume this session
    if (this.#o.persistent || (this.#options.sessionExpiry ?? 0) > 0) this.#clean = false;
    this.#out.push({ type: CONNECTED, sessionPresent, connack: p });
    // resubscribe when the server lost the session; pending requests go out as well
    if (!sessionPresent) this.#subs.resubscribe(() => this.#publishes.allocateId());
    for (const r of this.#requests.values()) this.#sendRequest(r, now);
    this.#publishes.pump(now);
  }

  #serverDisconnect(p: MqttPacket & { type: "disconnect" }): void {
    const reason: CloseReason = { code: "server-disconnect", reasonCode: p.reasonCode, message: p.properties?.reasonString ?? reasonName(p.reasonCode) };
    if (p.properties?.serverReference) reason.serverReference = p.properties.serverReference;
    this.#lost(this.state === ENDING);
    this.#out.push({ type: CLOSE, reason });
  }

  // ------------------------------------------------------------ enhanced auth (v5 §4.12)

  #auth(p: AuthPacket, now: number): void {
    const method = this.#options.authenticationMethod;
    if (method === undefined || p.properties?.authenticationMethod !== method) {
      return this.#fault("protocol-error", "AUTH without our authentication method", now); // §4.12
    }
    if (p.reasonCode === 0x18 || (p.reasonCode === 0 && this.state === CONNECTED)) {
      this.#out.push({ type: AUTH, packet: p });
    } else if (p.reasonCode !== 0) {
      this.#fault("protocol-error", `AUTH reason 0x${p.reasonCode.toString(16)}`, now);
    }
  }

  #authReply(reasonCode: number, data: Uint8Array | undefined, now: number): void {
    const method = this.#options.authenticationMethod;
    if (method === undefined || this.version !== 5) throw new MoteError("invalid-state", "no authentication method configured");
    if (this.state !== CONNECTING && this.state !== CONNECTED) throw new MoteError("invalid-state", `auth while ${this.state}`);
    const properties: Properties = { authenticationMethod: method };
    if (data !== undefined) properties.authenticationData = data;
    this.#out.send({ type: AUTH, reasonCode, properties }, now);
  }

  // ------------------------------------------------------------ incoming publish

  #incomingPublish(p: PublishPacket, now: number): void {
    const aliasFault = this.#aliases.incoming(p, this.#o.topicAliasMaximum);
    if (aliasFault !== undefined) return this.#fault(aliasFault, `topic alias ${p.properties!.topicAlias}`, now);
    if (p.qos === 0) {
      this.#out.push({ type: MESSAGE, packet: p });
      return;
    }
    const id = p.packetId!;
    if (p.qos === 1) {
      this.#out.push({ type: MESSAGE, packet: p });
      this.#out.send({ type: PUBACK, packetId: id, reasonCode: 0 }, now);
      return;
    }
    // QoS 2, §4.3.3 method B: deliver once, hold the id until PUBREL
    if (!this.#incoming.has(id)) {
      if (this.#incoming.size >= this.#o.receiveMaximum) {
        return this.#fault("receive-maximum-exceeded", `more than ${this.#o.receiveMaximum} QoS 2 messages held`, now); // §4.9
      }
      this.#incoming.add(id);
      this.#out.dirty = this.#incomingDirty = true;
      this.#out.push({ type: MESSAGE, packet: p });
    }
    this.#out.send({ type: PUBREC, packetId: id, reasonCode: 0 }, now);
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
    if (this.state === ENDING || this.state === ENDED) throw new MoteError("ended", "the client is ending");
  }

  #requestId(): number {
    const id = this.#publishes.allocateId();
    if (id === undefined) throw new MoteError("no-packet-id", "all packet identifiers in use");
    return id;
  }

  #sendRequest(r: Request, now: number): void {
    if (this.state !== CONNECTED || r.sent) return;
    r.sent = true;
    if (r.kind === SUBSCRIBE) {
      this.#out.send({ type: "subscribe", packetId: r.packetId, subscriptions: r.subscriptions!, ...(r.properties && { properties: r.properties }) }, now);
    } else {
      this.#out.send({ type: "unsubscribe", packetId: r.packetId, filters: r.filters!, ...(r.properties && { properties: r.properties }) }, now);
    }
  }

  // ------------------------------------------------------------ end

  #end(force: boolean, reasonCode: number, now: number): void {
    if (this.state === ENDED) return;
    if (this.state !== CONNECTED && this.state !== ENDING) {
      this.#lost(true);
      this.#out.push({ type: CLOSE, reason: { code: "client-disconnect" } });
      return;
    }
    this.#endReason = reasonCode;
    this.state = ENDING;
    if (force) return this.#finishEnd(now, { code: "client-disconnect" });
    this.#endDeadline = now + this.#o.endTimeoutMs;
    this.#maybeFinishEnd(now);
  }
  #endReason = 0;

  #maybeFinishEnd(now: number): void {
    if (this.state !== ENDING) return;
    if (this.#publishes.idle && this.#requests.size === 0) {
      this.#finishEnd(now, { code: "client-disconnect" });
    }
  }

  #finishEnd(now: number, reason: CloseReason): void {
    // §3.14: DISCONNECT (3.1.1 has no reason code; the will is discarded unless 0x04)
    this.#out.send(this.version === 5 && this.#endReason !== 0 ? { type: DISCONNECT, reasonCode: this.#endReason } : { type: DISCONNECT, reasonCode: 0 }, now);
    this.#lost(true);
    this.#out.push({ type: CLOSE, reason });
  }
}

function positive(n: number, name: string, max: number): number {
  if (!(n >= 1 && n <= max)) throw new MoteError("invalid-option", `${name} must be 1..${max}`);
  return Math.floor(n);
}

