/**
 * A session's outgoing PUBLISHes: the queue they wait in and the window of
 * QoS 1/2 messages sent and not yet acknowledged, with the PUBACK / PUBREC /
 * PUBREL / PUBCOMP exchange that completes them (MQTT 5 §4.3).
 *
 * A message goes straight out when the session is connected, nothing is
 * queued ahead of it and the window has room; otherwise it waits in the
 * queue (offline-queue.ts), and `pump()` sends what the window allows when
 * room is made: an acknowledgement, a new connection. A QoS 1/2 message takes
 * a packet id when it goes out and is in flight until acknowledged. The window
 * is min(maxInflight, the server's Receive Maximum) (§4.9) and counts the
 * messages sent on this connection.
 *
 * In-flight messages are session state (§4.1) and outlive a connection:
 * `lost()` marks them unsent, and the next connection resends them, PUBLISH
 * with DUP or the PUBREL owed, before anything new (§4.4); a server that lost
 * the session gets them again as new messages (`requeue()`).
 * Packet ids (§2.2.1) are shared with SUBSCRIBE / UNSUBSCRIBE: `allocateId()`
 * skips the ids of the session's requests too.
 *
 * The session (session.ts) runs the connection and hands over the caller's
 * publishes, the changes of connection and the acknowledgements; this file
 * checks a message, decides what goes out when, and writes the packets and
 * the caller's outcomes to the session's output (session-output.ts). It reads
 * in sections: limits and counts, snapshot, connection changes, publish
 * (queue, window, packet ids), acknowledgements.
 */
import { MoteError } from "../errors.js";
import { publishSize } from "./codec.js";
import type { AckPacket, Properties, ProtocolVersion, PublishPacket, QoS } from "./packets.js";
import { reasonName } from "./reason-codes.js";
import { assertTopicName } from "./topic.js";
import type { TopicAliases } from "./aliases.js";
import { OfflineQueue, messageBytes, type Queued } from "./offline-queue.js";
import type { SessionOutput } from "./session-output.js";
import type { FailureCode, OutgoingMessage, SessionOptions, SessionSnapshot } from "./session-types.js";
import { PUBACK, PUBLISH, PUBLISHED, PUBREC, PUBREL } from "./names.js";

interface Inflight {
  packet: PublishPacket; // topic in full, packetId set
  ref: unknown;
  released: boolean; // QoS 2: PUBREC received, PUBREL sent
  sent: boolean; // on this connection
  dup: boolean; // sent on an earlier connection: a resend carries DUP (§3.3.1.1)
  at: number; // when the session took it (Queued.at)
  /** The buffer holding the PUBLISH a borrowed payload is a view into (SessionOutput.keptBuffer): given back when the message leaves the window. */
  kept: Uint8Array | undefined;
}

export type WindowOptions = Required<Pick<SessionOptions, "maxInflight" | "queueMaxMessages" | "queueMaxBytes" | "queuePolicy" | "persistent">>;

export class PublishWindow {
  readonly #out: SessionOutput;
  readonly #version: ProtocolVersion;
  readonly #aliases: TopicAliases;
  /** The session's SUBSCRIBE / UNSUBSCRIBE requests by packet id: ids a PUBLISH may not take. */
  readonly #requests: ReadonlyMap<number, unknown>;
  readonly #maxInflight: number;
  readonly #persistent: boolean;
  readonly #queue: OfflineQueue;
  #inflight = new Map<number, Inflight>();
  /** In-flight messages sent on this connection. */
  #sentCount = 0;
  /** Some in-flight message may be unsent on this connection (after a reconnect or restore): only then does pump() scan them. */
  #resendDue = false;
  #nextId = 1;
  /**
   * The record and the packet of the last message sent from a kept buffer and
   * acknowledged (see #complete): the next borrowed message takes them instead
   * of two new objects (~16 slots a telemetry message on XS). Nothing else holds
   * them by then: snapshot() copies such a packet, and held() is read at once.
   */
  #spareRecord: Inflight | undefined;
  #sparePacket: PublishPacket | undefined;
  // the server's limits on this connection (v5 §3.2.2.3)
  #serverReceiveMaximum = 65_535;
  #serverMaxPacket = 268_435_460;
  #serverMaxQoS: QoS = 2;
  #retainAvailable = true;

  constructor(out: SessionOutput, version: ProtocolVersion, aliases: TopicAliases, requests: ReadonlyMap<number, unknown>, o: WindowOptions) {
    this.#out = out;
    this.#version = version;
    this.#aliases = aliases;
    this.#requests = requests;
    this.#maxInflight = o.maxInflight;
    this.#persistent = o.persistent;
    this.#queue = new OfflineQueue(o.queueMaxMessages, o.queueMaxBytes, o.queuePolicy);
  }

  // ------------------------------------------------------------ limits and counts

  /** The window in force: min(maxInflight, server Receive Maximum). */
  get window(): number {
    return Math.min(this.#maxInflight, this.#serverReceiveMaximum);
  }
  get inflightCount(): number {
    return this.#inflight.size;
  }
  get queuedCount(): number {
    return this.#queue.length;
  }
  /** Nothing in flight and nothing queued. */
  get idle(): boolean {
    return this.#inflight.size === 0 && this.#queue.length === 0;
  }

  /** When the oldest QoS 1/2 message held (in flight or queued) that the session took at or after `since` was taken; undefined when none. */
  oldestTakenSince(since: number): number | undefined {
    // forEach with a callback made once and index loops: a `for…of` made an iterator and
    // a result object per step on XS, at every delayed save of steady telemetry
    oldestSince = since;
    oldestFound = undefined;
    this.#inflight.forEach(visitOldest);
    let oldest = oldestFound as number | undefined; // (set by the walk: TypeScript does not see it)
    // the queue is in the order taken (messages put back at its head are older still)
    const items = this.#queue.items;
    for (let i = 0; i < items.length; i++) {
      const q = items[i];
      if (q.message.qos > 0 && q.at >= since) {
        if (oldest === undefined || q.at < oldest) oldest = q.at;
        break;
      }
    }
    return oldest;
  }

  // ------------------------------------------------------------ snapshot

  /**
   * The outgoing part of a SessionSnapshot: in-flight messages and queued QoS 1/2
   * ones, in order. A payload in a kept buffer is copied (the buffer is written
   * again once the message is acknowledged), unless `borrow` (see MqttSession.held).
   */
  snapshot(borrow = false): Pick<SessionSnapshot, "outgoing" | "queued"> {
    const outgoing: SessionSnapshot["outgoing"] = [];
    for (const f of this.#inflight.values()) outgoing.push({ packet: f.kept === undefined || borrow ? f.packet : copied(f.packet), released: f.released });
    const queued: PublishPacket[] = [];
    for (const q of this.#queue.items) if (q.message.qos > 0) queued.push(q.message);
    return { outgoing, queued };
  }

  /** Loads the outgoing part of a snapshot into an empty window; queued messages past the queue's bounds are dropped. */
  restore(s: Pick<SessionSnapshot, "outgoing" | "queued">): void {
    for (const o of s.outgoing) {
      const id = o.packet.packetId;
      if (id === undefined || this.#inflight.has(id) || o.packet.qos === 0) continue;
      this.#inflight.set(id, { packet: o.packet, ref: undefined, released: o.released, sent: false, dup: true, at: 0, kept: undefined });
      this.#resendDue = true;
    }
    for (const m of s.queued) if (!this.#queue.addIfRoom(m)) break;
  }

  // ------------------------------------------------------------ connection changes

  /** A new connection: the server's limits from its CONNACK properties (v5 §3.2.2.3). */
  start(props: Properties): void {
    this.#serverReceiveMaximum = props.receiveMaximum ?? 65_535;
    this.#serverMaxPacket = props.maximumPacketSize ?? 268_435_460;
    this.#serverMaxQoS = (props.maximumQoS ?? 2) as QoS;
    this.#retainAvailable = props.retainAvailable ?? true;
  }

  /**
   * The server has no session (§4.4 / §3.2.2.2): a message it acknowledged
   * with PUBREC is done; the others go back to the head of the queue, to be
   * sent as new messages.
   */
  requeue(): void {
    const back: Queued[] = [];
    for (const f of this.#inflight.values()) {
      if (f.released) this.#out.push({ type: PUBLISHED, ref: f.ref, reasonCode: 0 }); // the server had it (PUBREC)
      else {
        const message = { ...f.packet, dup: false, packetId: undefined };
        if (f.kept !== undefined) message.payload = message.payload.slice(); // the buffer is given back below
        back.push({ message, ref: f.ref, bytes: messageBytes(message.topic, message.payload), at: f.at });
      }
      this.#giveBack(f);
    }
    if (this.#inflight.size) this.#out.dirty = true;
    this.#inflight.clear();
    this.#queue.addFirst(back);
  }

  /** The connection is gone: every in-flight message is unsent on the next one; those sent on this one go again with DUP. */
  lost(): void {
    this.#sentCount = 0;
    for (const f of this.#inflight.values()) {
      if (f.sent) f.dup = true;
      f.sent = false;
    }
    this.#resendDue = this.#inflight.size > 0;
  }

  /**
   * The session has ended: each waiting caller learns "ended". A persistent
   * session keeps its QoS 1/2 messages, without their callers, for a later
   * client (the store); otherwise all are dropped.
   */
  end(): void {
    if (this.#persistent) {
      this.#queue.filter((q) => {
        this.#out.fail(q.ref, "ended");
        return q.message.qos === 0 ? undefined : { ...q, ref: undefined };
      });
      for (const f of this.#inflight.values()) {
        this.#out.fail(f.ref, "ended");
        f.ref = undefined;
      }
      return;
    }
    for (const f of this.#inflight.values()) {
      this.#out.fail(f.ref, "ended");
      this.#giveBack(f);
    }
    for (const q of this.#queue.items) this.#out.fail(q.ref, "ended");
    if (this.#inflight.size || this.#queue.length) this.#out.dirty = true;
    this.#inflight.clear();
    this.#queue.clear();
  }

  // ------------------------------------------------------------ publish

  /**
   * A message from the caller, checked (MoteError for a bad one). While
   * connected it goes out now if it can; otherwise, or behind others, it
   * waits its turn in the queue. A borrowed payload (OutgoingMessage.borrowed)
   * is copied only where it is kept: into the PUBLISH that goes out now (its
   * in-flight record then holds a view of those bytes), or, for a message that
   * waits, into an array of its own.
   */
  publish(m: OutgoingMessage, ref: unknown, connected: boolean, now: number): void {
    assertTopicName(m.topic);
    const qos = m.qos;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new MoteError("invalid-qos", `QoS ${qos}`);
    if (!(m.payload instanceof Uint8Array)) throw new MoteError("invalid-payload", "payload must be a Uint8Array");
    if (m.properties !== undefined && this.#version === 5 && m.properties.topicAlias !== undefined)
      throw new MoteError("invalid-properties", "topic aliases are managed by the session");
    const borrowed = m.borrowed === true;
    let packet = borrowed ? this.#sparePacket : undefined;
    if (packet === undefined) packet = { type: PUBLISH, topic: m.topic, payload: m.payload, qos, retain: m.retain ?? false, dup: false };
    else {
      this.#sparePacket = undefined;
      packet.topic = m.topic;
      packet.payload = m.payload;
      packet.qos = qos;
      packet.retain = m.retain ?? false;
      packet.dup = false;
      packet.packetId = undefined;
      packet.properties = undefined;
    }
    if (m.properties !== undefined && this.#version === 5) packet.properties = m.properties;
    if (!connected) return this.#enqueue(borrowed ? owned(packet) : packet, ref, now);
    const size = publishSize(packet, this.#version);
    const refused = this.#refusal(packet, size);
    if (refused !== undefined) return this.#refuse(ref, refused, size);
    if (this.#queue.length === 0) {
      if (qos === 0) {
        this.#out.send(this.#aliases.outgoing(packet), now);
        this.#out.push({ type: PUBLISHED, ref, reasonCode: 0 });
        // its bytes are written: a borrowed message's packet serves the next one (an object a message was garbage on XS)
        if (borrowed) this.#sparePacket = packet;
        return;
      }
      // nothing queued ahead and room in the window: straight out, without a trip through the queue
      if (this.#hasRoom()) {
        const id = this.allocateId();
        if (id !== undefined) return this.#sendNew(packet, id, ref, now, now, borrowed ? size : 0);
      }
    }
    this.#enqueue(borrowed ? owned(packet) : packet, ref, now);
    this.pump(now);
  }

  /** The caller's message fails with what the server would answer (its failure codes are compared only here: literals are a chunk each on XS, names.ts). */
  #refuse(ref: unknown, refused: FailureCode, size: number): void {
    if (refused === "packet-too-large") this.#out.fail(ref, refused, 0x95, `${size} bytes > the server's Maximum Packet Size ${this.#serverMaxPacket} (MQTT 5 §3.2.2.3.6)`);
    else this.#out.fail(ref, refused, refused === "qos-not-supported" ? 0x9b : 0x9a);
  }

  /** Why the server would refuse this message on this connection (v5 §3.2.2.3), if it would. */
  #refusal(p: PublishPacket, size: number): FailureCode | undefined {
    if (size > this.#serverMaxPacket) return "packet-too-large";
    if (p.qos > this.#serverMaxQoS) return "qos-not-supported";
    if (p.retain && !this.#retainAvailable) return "retain-not-supported";
    return undefined;
  }

  #enqueue(message: PublishPacket, ref: unknown, now: number): void {
    const refused = this.#queue.add(message, ref, now, (d) => this.#out.fail(d.ref, "dropped", undefined, "dropped from a full queue"));
    if (refused === "too-large") return this.#out.fail(ref, "queue-full", undefined, "message larger than the queue");
    if (refused === "full") return this.#out.fail(ref, "queue-full");
    if (message.qos > 0) this.#out.dirty = true;
  }

  /** Sends what the window allows: unsent in-flight first (resends), then the queue, in order. Only while connected or ending. */
  pump(now: number): void {
    const window = this.window;
    if (this.#resendDue) this.#resend(window, now);
    for (let q = this.#queue.head; q !== undefined; q = this.#queue.head) {
      const m = q.message;
      if (m.qos > 0 && !this.#hasRoom()) break;
      const refused = this.#refusal(m, publishSize(m, this.#version));
      let id: number | undefined;
      if (!refused && m.qos > 0 && (id = this.allocateId()) === undefined) break;
      this.#queue.shift();
      if (refused) {
        this.#out.fail(q.ref, refused);
        continue;
      }
      if (m.qos === 0) {
        this.#out.send(this.#aliases.outgoing(m), now);
        this.#out.push({ type: PUBLISHED, ref: q.ref, reasonCode: 0 });
        continue;
      }
      this.#sendNew({ ...m }, id!, q.ref, now, q.at); // a copy: a restored message may be the store's own object
    }
  }

  /** Room in the window for one more QoS 1/2 message on this connection (§4.9), and nothing older to resend first. */
  #hasRoom(): boolean {
    const window = this.window;
    return !this.#resendDue && this.#sentCount < window && this.#inflight.size < window;
  }

  /**
   * A QoS 1/2 message gets its packet id and goes out: in flight until acknowledged.
   * A borrowed payload is kept as the view of its bytes in the PUBLISH (the last
   * bytes of the packet, §3.3.3), so the caller may reuse its array. That PUBLISH
   * is written into a kept buffer, given back when the message leaves the window
   * (#giveBack), so steady telemetry reuses one buffer instead of making an
   * array per message. `borrowedSize`: the PUBLISH's size for a borrowed
   * payload (a topic alias may add a few bytes: the buffer is rounded up, and a
   * packet that does not fit gets an array of its own), else 0.
   */
  #sendNew(packet: PublishPacket, id: number, ref: unknown, now: number, at: number, borrowedSize = 0): void {
    packet.packetId = id;
    let f = this.#spareRecord;
    if (f === undefined) f = { packet, ref, released: false, sent: true, dup: false, at, kept: undefined };
    else {
      this.#spareRecord = undefined;
      f.packet = packet;
      f.ref = ref;
      f.released = false;
      f.sent = true;
      f.dup = false;
      f.at = at;
      f.kept = undefined;
    }
    this.#inflight.set(id, f);
    this.#sentCount++;
    this.#out.dirty = true;
    const outgoing = this.#aliases.outgoing(packet);
    const borrowed = borrowedSize > 0;
    const kept = borrowed ? this.#out.keptBuffer(borrowedSize) : undefined;
    const data = this.#out.send(outgoing, now, kept);
    if (kept !== undefined) {
      if (data.buffer === kept.buffer) f.kept = kept;
      else this.#out.giveBack(kept);
    }
    if (borrowed) packet.payload = data.subarray(data.length - packet.payload.length);
  }

  /** The message left the window: its kept buffer (if any) may be written again. */
  #giveBack(f: Inflight): void {
    if (f.kept === undefined) return;
    this.#out.giveBack(f.kept);
    f.kept = undefined;
  }

  /** Sends in-flight messages not yet sent on this connection, in order, as the window allows. */
  #resend(window: number, now: number): void {
    for (const f of this.#inflight.values()) {
      if (f.sent) continue;
      if (this.#sentCount >= window) return; // the rest after the next completion
      f.sent = true;
      this.#sentCount++;
      if (f.released) this.#out.send({ type: PUBREL, packetId: f.packet.packetId!, reasonCode: 0 }, now);
      else this.#out.send(this.#aliases.outgoing(f.dup ? { ...f.packet, dup: true } : f.packet), now);
    }
    this.#resendDue = false;
  }

  /** A packet id in use by no in-flight message and no request, or undefined when all 65,535 are. */
  allocateId(): number | undefined {
    for (let i = 0; i < 65_535; i++) {
      const id = this.#nextId;
      this.#nextId = id === 65_535 ? 1 : id + 1;
      if (!this.#inflight.has(id) && !this.#requests.has(id)) return id;
    }
    return undefined;
  }

  // ------------------------------------------------------------ acknowledgements

  /** A PUBACK, PUBREC or PUBCOMP from the server. Returns true when a message left the window (an ending session may be done). */
  ack(p: AckPacket, now: number): boolean {
    const { type, packetId: id, reasonCode } = p;
    const reasonString = p.properties?.reasonString;
    const f = this.#inflight.get(id);
    if (type === PUBREC) {
      if (f === undefined || f.packet.qos !== 2) {
        // §4.3.3: answer an unknown PUBREC so the server can finish
        this.#out.send({ type: PUBREL, packetId: id, reasonCode: this.#version === 5 ? 0x92 : 0 }, now);
        return false;
      }
      if (reasonCode >= 0x80) return this.#complete(id, f, reasonCode, reasonString, now); // §4.3.3: no PUBREL after a failure code
      f.released = true;
      this.#out.dirty = true;
      this.#out.send({ type: PUBREL, packetId: id, reasonCode: 0 }, now);
      return false;
    }
    if (f === undefined) return false;
    if (type === PUBACK && f.packet.qos === 2 && !f.released) {
      // §4.3.3 has no PUBACK for QoS 2, yet a broker without QoS 2 (RabbitMQ 3.10's
      // MQTT plugin) answers one: it took the message at QoS 1. Waiting for a PUBREC
      // that never comes would hang the sender; the message is not sent again (the
      // broker has it) and its request fails with what happened.
      this.#inflight.delete(id);
      this.#giveBack(f);
      if (f.sent) this.#sentCount--;
      this.#out.dirty = true;
      this.#out.fail(f.ref, "qos-not-supported", undefined, "the broker answered the QoS 2 PUBLISH with PUBACK: it took the message at QoS 1 and has no QoS 2");
      this.pump(now);
      return true;
    }
    if (type === PUBACK ? f.packet.qos !== 1 : !f.released) return false; // an ack for another phase: ignore
    return this.#complete(id, f, reasonCode, reasonString, now);
  }

  #complete(id: number, f: Inflight, reasonCode: number, reasonString: string | undefined, now: number): true {
    this.#inflight.delete(id);
    const spare = f.kept !== undefined; // a borrowed message: its record and packet are the window's alone
    this.#giveBack(f);
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
    if (reasonCode >= 0x80 && !recovered) this.#out.fail(f.ref, "rejected", reasonCode, reasonString ?? reasonName(reasonCode));
    else this.#out.push({ type: PUBLISHED, ref: f.ref, reasonCode });
    this.pump(now);
    if (spare) {
      f.ref = undefined; // hold no caller's request
      this.#spareRecord = f;
      this.#sparePacket = f.packet;
    }
    return true;
  }
}

/** A copy of the packet with a payload of its own. */
function copied(packet: PublishPacket): PublishPacket {
  return { ...packet, payload: packet.payload.slice() };
}

/** The packet with a payload of its own (a borrowed one is copied before the message waits). */
function owned(packet: PublishPacket): PublishPacket {
  packet.payload = packet.payload.slice();
  return packet;
}

/** oldestTakenSince()'s walk of the in-flight messages: its bound and its finding (one walk at a time, no re-entry). */
let oldestSince = 0;
let oldestFound: number | undefined;
function visitOldest(f: Inflight): void {
  if (f.at >= oldestSince && (oldestFound === undefined || f.at < oldestFound)) oldestFound = f.at;
}
