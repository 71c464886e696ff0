/**
 * MQTT client: the thin binding (STYLE.md habit 6) between the sans-I/O
 * MqttSession and the platform — a TCP or TLS socket (ECMA-419 style:
 * first onWritable = connected, write budget, onError also on clean close),
 * DNS, one Alarm re-armed at session.nextDeadline(), and a reconnect timer
 * with exponential backoff and full jitter. When to attempt, give up and wait
 * is decided by the sans-I/O LinkLifecycle (reconnect.ts); this file runs it.
 *
 * The API: `connect(url | options)` returns a client at once and connects in
 * the background; `publish()` resolves at PUBACK / PUBCOMP (QoS 0: once its
 * bytes are written to the socket); `subscribe()` / `unsubscribe()` resolve
 * with the SUBACK / UNSUBACK codes; `end({ force })` flushes or abandons
 * in-flight messages; events: connect, reconnect, offline, close, error,
 * message.
 *
 * A broker list (`url` with several comma-separated URLs, or `brokers`), each
 * with its own credentials: the lifecycle moves to the next broker on every
 * failure, with the same backoff (reconnect.ts). The session is the client's,
 * not the socket's: with `clean: false` its in-flight and queued messages and
 * its subscriptions go to the next broker as they would to the same one — a
 * broker that has the session (a cluster node sharing it) resumes it; one that
 * has none (CONNACK session present 0) gets the subscriptions again and the
 * unacknowledged QoS 1/2 messages resent (MQTT 3.1.1 §4.4, session.ts).
 *
 * Beside this file: client-api.ts (the options, events and error classes),
 * urls.ts (broker URLs), pending.ts (the callers' promises), outbox.ts (bytes
 * waiting for the socket). Writes are made once per job (#flushSoon), so the
 * publishes a batch of PUBACKs lets out leave as one socket write.
 */
import { MoteError } from "../errors.js";
import { now } from "../platform/clock.js";
import { Alarm } from "../platform/timer.js";
import { connectTcp, type SocketErrorCode, type StreamHandlers, type StreamSocket } from "../platform/tcp.js";
import { connectTls } from "../platform/tls.js";
import { resolveHost } from "../platform/dns.js";
import { randomInt } from "../platform/random.js";
import { encodeUtf8 } from "../util/utf8.js";
import { LinkLifecycle, type LinkAction, type LinkEvent } from "./reconnect.js";
import { MqttSession } from "./session.js";
import type { SessionAction, SessionEvent, SessionOptions } from "./session-types.js";
import type { PublishPacket, QoS, Subscription } from "./packets.js";
import { topicMatches } from "./topic.js";
import { MqttConnectionError, MqttRequestError, type ClientEvents, type ClientOptions, type MessageHandler, type PublishOptions, type SubscribeOptions } from "./client-api.js";
import { MAX_BROKERS, parseMqttUrls, type BrokerTarget } from "./urls.js";
import { Outbox } from "./outbox.js";
import { PendingList, type Done } from "./pending.js";
import { AUTH, BYTES, CLOSE, CLOSED, CONNECTED, CONNECTING, DISCONNECTED, END, ENDED, FAILED, MESSAGE, OPEN, PERSIST, PUBLISH, PUBLISHED, SEND, SUBSCRIBE, SUBSCRIBED, TIMER, UNSUBSCRIBE, UNSUBSCRIBED } from "./names.js";

export { MqttConnectionError, MqttRequestError } from "./client-api.js";
export type { ClientEvents, ClientOptions, MessageHandler, PublishOptions, ReconnectOptions, SubscribeOptions } from "./client-api.js";
export { MAX_BROKERS, parseMqttUrl, parseMqttUrls } from "./urls.js";
export type { BrokerTarget } from "./urls.js";

/** An empty payload: what send()'s reused event holds between calls. */
const NO_BYTES = new Uint8Array(0);

/** Events a listener may queue from inside one session event (#feed) before they are handled in place. */
const MAX_LATER = 64;

/**
 * A payload as bytes: a string encoded as UTF-8; anything else as it is, for the session
 * to refuse. Bytes are tested first: the `typeof` literal is a chunk per run on XS (names.ts).
 */
function payloadBytes(payload: string | Uint8Array): Uint8Array {
  return payload instanceof Uint8Array ? payload : typeof payload === "string" ? encodeUtf8(payload) : payload;
}

/** The session event of a publish()/send() (`ref` set by the caller); `borrowed`: see OutgoingMessage. */
function publishEvent(topic: string, payload: string | Uint8Array, qos: QoS, options: PublishOptions, borrowed: boolean): SessionEvent & { type: "publish" } {
  const event: SessionEvent & { type: "publish" } = {
    type: PUBLISH,
    message: { topic, payload: payloadBytes(payload), qos, retain: options.retain ?? false },
    ref: undefined,
  };
  if (options.properties) event.message.properties = options.properties;
  if (borrowed) event.message.borrowed = true;
  return event;
}

export class MqttClient {
  readonly session: MqttSession;
  readonly #targets: readonly BrokerTarget[];
  readonly #options: ClientOptions;
  readonly #alarm: Alarm;
  readonly #listeners: { [K in keyof ClientEvents]?: ClientEvents[K][] } = {};
  readonly #handlers = new Map<string, MessageHandler>();
  #socket: StreamSocket | undefined;
  #opened = false;
  #budget = 0;
  /** Bytes waiting for the socket. */
  /** Bytes waiting for the socket; a QoS 0 request is settled once its packet is written. */
  readonly #out = new Outbox((ref) => this.#pending.settle(ref, undefined));
  #closeAfterFlush = false;
  /** When to attempt, abandon and wait (reconnect.ts), woken by #linkAlarm. */
  readonly #link: LinkLifecycle;
  readonly #linkAlarm: Alarm;
  /** Bumped by every attempt: callbacks of a replaced attempt are ignored. */
  #openAttempt = 0;
  #ended = false;
  #endWaiters: (() => void)[] = [];
  /** The callers' promises not yet settled; each is the `ref` of its session event. */
  readonly #pending = new PendingList((e) => this.#emit("error", e instanceof MoteError ? e : new MoteError("handler", String(e))));
  /** send()'s event, made once (see send(); two objects a message were garbage on XS). */
  readonly #sendEvent: SessionEvent & { type: "publish" } = {
    type: PUBLISH,
    message: { topic: "", payload: NO_BYTES, qos: 0, retain: false, properties: undefined, borrowed: true },
    ref: undefined,
  };
  /** The "bytes" event of a read, made once (see #feedBytes). */
  readonly #bytesEvent: SessionEvent & { type: "bytes" } = { type: BYTES, data: NO_BYTES, borrowed: false };
  /** True while the session handles an event (see #feed). */
  #feeding = false;
  /** Events from listeners that ran inside #feed: handled when it returns, in order. */
  #later: SessionEvent[] = [];
  /** The deadline #alarm is armed for (see #armAlarm). */
  #alarmAt: number | undefined;
  /** A #flush is queued as a promise job (see #flushSoon). */
  #flushQueued = false;
  /** A promise is involved in the current event: its bytes are written by #flushSoon's job. */
  #deferFlush = false;
  /** Bytes to write when the outermost #feed ends (see #flushSoon). */
  #flushAfterFeed = false;
  /** With a store and `saveDelayMs`: the deferred save (see #persist); undefined otherwise. */
  readonly #saveAlarm: Alarm | undefined;
  /** A save is owed: the session changed since the last one. */
  #saveOwed = false;
  /** The store holds a session with nothing in it (or nothing): saving an empty one again is skipped. */
  #savedEmpty = false;
  /** When the last save was made (`now`): messages taken at or after it are not in the store. */
  #savedAt = 0;

  constructor(options: ClientOptions) {
    this.#options = options;
    let targets: BrokerTarget[];
    if (options.brokers !== undefined) {
      if (options.brokers.length < 1 || options.brokers.length > MAX_BROKERS) throw new MoteError("invalid-url", `1..${MAX_BROKERS} brokers`);
      targets = options.brokers.map((b) => ({ ...b }));
    } else if (options.url !== undefined) targets = parseMqttUrls(options.url);
    else {
      const tls = options.protocol === "mqtts";
      targets = [{ host: options.host ?? "127.0.0.1", port: options.port ?? (tls ? 8883 : 1883), tls }];
    }
    this.#targets = targets;
    const sessionOptions: SessionOptions = { ...options, clientId: options.clientId ?? "" };
    if (options.store && sessionOptions.persistent === undefined) sessionOptions.persistent = true;
    this.session = new MqttSession(sessionOptions);
    const saved = options.store?.load();
    if (saved) this.session.restore(saved);
    this.#savedEmpty = this.#holdsNothing();
    this.#alarm = new Alarm(() => {
      this.#alarmAt = undefined;
      this.#feed({ type: TIMER });
    });
    if (options.store && (options.saveDelayMs ?? 0) > 0) this.#saveAlarm = new Alarm(() => this.#saveDue());
    const r = options.reconnect;
    this.#link = new LinkLifecycle({
      reconnect: r !== false,
      initialDelayMs: r ? r.initialDelayMs : undefined,
      maxDelayMs: r ? r.maxDelayMs : undefined,
      stableAfterMs: r ? r.stableAfterMs : undefined,
      // The session's connect timeout starts at CONNECT; this one covers DNS and the
      // TCP/TLS handshake before it. A host socket that neither connects nor fails
      // (a lost SYN, an error the host never reports) must not leave the client
      // waiting for ever: the attempt is given up and the backoff goes on.
      transportTimeoutMs: options.connectTimeoutMs,
      rng: () => randomInt(0x1_0000_0000) / 0x1_0000_0000,
      brokers: targets.length,
    });
    this.#linkAlarm = new Alarm(() => this.#drive({ type: TIMER }));
    this.#drive({ type: "start" });
  }

  /** The broker in use (connected or attempting) or to be tried next: its index in the list, host and port. */
  get broker(): { index: number; host: string; port: number } {
    const index = this.#link.broker;
    const t = this.#targets[index];
    return { index, host: t.host, port: t.port };
  }

  /** True while a CONNACK-accepted connection is up. */
  get connected(): boolean {
    return this.session.state === CONNECTED;
  }

  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): this {
    (this.#listeners[event] ??= [] as never[]).push(listener as never);
    return this;
  }

  off<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): this {
    const l = this.#listeners[event];
    if (l) l.splice(l.indexOf(listener as never) >>> 0, 1);
    return this;
  }

  #emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    const l = this.#listeners[event];
    if (!l) return;
    for (const f of l.slice()) {
      try {
        (f as (...a: unknown[]) => void)(...args);
      } catch (e) {
        if (event !== "error") this.#emit("error", e instanceof MoteError ? e : new MoteError("listener", String(e)));
      }
    }
  }

  /** Resolves at PUBACK (QoS 1) / PUBCOMP (QoS 2), or when written (QoS 0). */
  publish(topic: string, payload: string | Uint8Array, options: PublishOptions = {}): Promise<void> {
    const qos = options.qos ?? 0;
    if (qos === 0 && this.#out.bytes > (this.#options.maxWriteBuffer ?? 65_536)) return Promise.reject(new MoteError("overflow", "write buffer full"));
    const event = publishEvent(topic, payload, qos, options, false);
    // #request written out here: a publish is the deepest path on the device (a
    // command's reply), and one frame fewer keeps it under Moddable's 384 slots.
    const { pending, promise } = this.#pending.open(qos === 0);
    event.ref = pending;
    this.#deferFlush = true; // a loop of publish() calls is one write (#flushSoon)
    try {
      this.#feed(event);
    } catch (e) {
      this.#pending.settle(pending, undefined, e as Error);
    }
    return promise as Promise<void>;
  }

  /**
   * publish() without a promise, for a loop that publishes all day on a small
   * engine: `done` is called once, with undefined when the message is sent (QoS 0:
   * written to the socket; QoS 1: PUBACK; QoS 2: PUBCOMP) or with the error
   * publish() would reject with — possibly before send() returns (a full write
   * buffer, a bad topic). Make `done` once, not per call. An exception `done`
   * throws is reported as an "error" event (code "handler").
   *
   * `payload` is read during the call only: the caller may reuse its array
   * (a JSON writer's scratch) as soon as send() returns. The client keeps its
   * own bytes — the PUBLISH it wrote, or a copy for a message that waits.
   */
  send(topic: string, payload: string | Uint8Array, options: PublishOptions, done: Done): void {
    const qos = options.qos ?? 0;
    const pending = this.#pending.openWithCallback(qos === 0, done);
    // settled through the list, as every outcome is: a `done` that throws is an "error" event
    if (qos === 0 && this.#out.bytes > (this.#options.maxWriteBuffer ?? 65_536)) return void this.#pending.settle(pending, undefined, new MoteError("overflow", "write buffer full"));
    // An event that waits its turn (#feed, from inside another) is its own, with a copy of
    // the payload. Otherwise the session handles it now and keeps neither the event nor the
    // payload (it copies what it keeps): one event, filled per call, is enough.
    let event: SessionEvent & { type: "publish" };
    if (this.#feeding) event = publishEvent(topic, payload instanceof Uint8Array ? payload.slice() : payload, qos, options, false);
    else {
      event = this.#sendEvent;
      const m = event.message;
      m.topic = topic;
      m.payload = payloadBytes(payload);
      m.qos = qos;
      m.retain = options.retain ?? false;
      m.properties = options.properties;
    }
    event.ref = pending;
    try {
      this.#feed(event);
    } catch (e) {
      this.#pending.settle(pending, undefined, e as Error);
    } finally {
      if (event === this.#sendEvent) {
        // let go of the caller's bytes and request
        event.message.payload = NO_BYTES;
        event.ref = undefined;
      }
    }
  }

  /** Resolves with the granted QoS / reason code per filter (>= 0x80 = refused). */
  subscribe(filter: string | string[], handler?: MessageHandler, options: SubscribeOptions = {}): Promise<number[]> {
    const filters = typeof filter === "string" ? [filter] : filter;
    const subscriptions: Subscription[] = filters.map((f) => {
      const s: Subscription = { filter: f, qos: options.qos ?? 0 };
      if (options.noLocal !== undefined) s.noLocal = options.noLocal;
      if (options.retainAsPublished !== undefined) s.retainAsPublished = options.retainAsPublished;
      if (options.retainHandling !== undefined) s.retainHandling = options.retainHandling;
      return s;
    });
    const event: SessionEvent = { type: SUBSCRIBE, subscriptions };
    if (options.properties) event.properties = options.properties;
    const promise = this.#request(event) as Promise<number[]>;
    if (handler) for (const f of filters) this.#handlers.set(f, handler);
    return promise.then((codes) => {
      codes.forEach((c, i) => c >= 0x80 && this.#handlers.delete(filters[i]));
      return codes;
    });
  }

  /** Resolves with the UNSUBACK reason codes (v5; empty for 3.1.1). */
  unsubscribe(filter: string | string[]): Promise<number[]> {
    const filters = typeof filter === "string" ? [filter] : filter;
    const promise = this.#request({ type: UNSUBSCRIBE, filters }) as Promise<number[]>;
    for (const f of filters) this.#handlers.delete(f);
    return promise;
  }

  /**
   * Ends the client. Graceful (default): waits for in-flight messages (up to
   * endTimeoutMs), then sends DISCONNECT. `force`: DISCONNECT now, in-flight
   * requests fail with "ended" (a persistent session keeps them in its store).
   */
  end(options: { force?: boolean } = {}): Promise<void> {
    const done = new Promise<void>((resolve) => this.#endWaiters.push(resolve));
    if (this.#saveOwed) this.#save(); // a reboot may follow before the socket closes
    if (!this.#ended) {
      this.#ended = true;
      this.#drive({ type: END });
      this.#feed({ type: END, force: options.force ?? false });
      if (this.#socket === undefined) this.#finish();
    } else if (this.#socket === undefined) this.#finish();
    return done;
  }

  /** One request into the session; its promise settles when the session says how it ended. */
  #request(event: SessionEvent & { ref?: unknown }): Promise<unknown> {
    const { pending, promise } = this.#pending.open(event.type === PUBLISH && event.message.qos === 0);
    // The session is fed after the promise exists, not from inside its executor:
    // two frames (20 slots) fewer under every publish down to the socket write
    // (Moddable's XS stack, docs/moddable.md); the same order of effects.
    event.ref = pending;
    try {
      this.#feed(event);
    } catch (e) {
      this.#pending.settle(pending, undefined, e as Error);
    }
    return promise;
  }

  // ------------------------------------------------------------ the loop

  /**
   * One event into the session, its actions run. Not reentrant: a listener that
   * publishes or subscribes from inside an action (the "connect" listener always
   * does) has its event queued and handled when the current one is done, in order —
   * so the session never handles an event in the middle of another's actions, and
   * the call stack stays flat (Moddable's default XS stack is 384 slots;
   * docs/moddable.md). Beyond MAX_LATER queued events, an event is handled at once.
   */
  #feed(event: SessionEvent): void {
    if (this.#feeding && this.#later.length < MAX_LATER) {
      this.#later.push(event);
      return;
    }
    const outer = !this.#feeding;
    this.#feeding = true;
    try {
      this.#run(this.session.handle(event, now()));
      if (outer)
        for (let next = this.#later.shift(); next !== undefined; next = this.#later.shift()) {
          try {
            this.#run(this.session.handle(next, now()));
          } catch (e) {
            this.#failLater(next, e);
          }
        }
    } finally {
      if (outer) {
        this.#feeding = false;
        // only if the outer event threw: what it left queued fails rather than hangs
        if (this.#later.length > 0) for (const e of this.#later.splice(0)) this.#failLater(e, new MoteError("internal", "not handled: an earlier event failed"));
      }
    }
    if (outer) {
      this.#deferFlush = false;
      if (this.#flushAfterFeed) {
        this.#flushAfterFeed = false;
        if (!this.#flushQueued) this.#flush();
      }
    }
    this.#armAlarm();
  }

  /**
   * Bytes read from the socket into the session. Outside another event they are handled
   * now, and the session keeps neither the event nor the array (its decoder keeps what it
   * still needs): one event object serves every read, where one per read was garbage on XS.
   */
  #feedBytes(data: Uint8Array, borrowed: boolean): void {
    // an event that waits for the one being handled gets bytes of its own
    if (this.#feeding) return this.#feed({ type: BYTES, data: borrowed ? data.slice() : data });
    const event = this.#bytesEvent;
    event.data = data;
    event.borrowed = borrowed;
    try {
      this.#feed(event);
    } finally {
      event.data = NO_BYTES;
      event.borrowed = false;
    }
  }

  /**
   * Arms #alarm for the session's next deadline. A later deadline than the one
   * armed keeps the armed timer: the keepalive deadline moves with every packet
   * sent, and a timer cleared and set again per packet cost more than the early
   * wake-up, which finds nothing due and arms the alarm again.
   */
  #armAlarm(): void {
    const d = this.session.nextDeadline();
    if (d !== undefined && this.#alarmAt !== undefined && this.#alarmAt <= d) return;
    this.#alarmAt = d;
    this.#alarm.arm(d);
  }

  /** A queued event the session refused by throwing: its request fails as it would have at the call. */
  #failLater(event: SessionEvent, e: unknown): void {
    const ref = (event as { ref?: unknown }).ref;
    if (this.#pending.isWaiting(ref)) this.#pending.settle(ref, undefined, e instanceof Error ? e : new MoteError("internal", String(e)));
    else this.#emit("error", e instanceof MoteError ? e : new MoteError("internal", String(e)));
  }

  #run(actions: SessionAction[]): void {
    for (let i = 0; i < actions.length; i++) {
      const a = actions[i];
      switch (a.type) {
        case SEND:
          this.#out.push(a.data);
          break;
        case PUBLISHED: {
          // QoS 0 resolves once its bytes leave: the last packet queued carries the resolution
          const ref = a.ref;
          if (!this.#pending.isQos0(ref) || !this.#out.whenLastWritten(ref))
            if (this.#pending.settle(ref, undefined)) this.#deferFlush = true;
          break;
        }
        case SUBSCRIBED:
        case UNSUBSCRIBED:
          if (this.#pending.settle(a.ref, a.reasonCodes)) this.#deferFlush = true;
          break;
        case FAILED:
          if (this.#pending.settle(a.ref, undefined, new MqttRequestError(a.error))) this.#deferFlush = true;
          break;
        case MESSAGE:
          this.#deliver(a.packet);
          break;
        case CONNECTED:
          this.#drive({ type: CONNECTED });
          this.#emit("connect", { sessionPresent: a.sessionPresent, connack: a.connack });
          break;
        case AUTH: {
          const reply = this.#options.onAuth?.({ reasonCode: a.packet.reasonCode, data: a.packet.properties?.authenticationData, properties: a.packet.properties });
          this.#run(this.session.handle({ type: AUTH, reasonCode: 0x18, data: reply }, now()));
          break;
        }
        case PERSIST:
          this.#persist(a.incoming === true);
          break;
        case CLOSE: {
          const r = a.reason;
          if (r.code !== "client-disconnect") this.#emit("error", new MqttConnectionError(r.code, r.message, r.reasonCode, r.serverReference));
          this.#closeAfterFlush = true;
          break;
        }
      }
    }
    // The last message the store still holds was acknowledged: the store says "empty" again at once
    // (else, with a message a second, every delayed save would find the newest one in flight and write).
    if (!this.#savedEmpty && this.#saveAlarm !== undefined && this.#holdsNothing()) this.#save();
    if (this.#closeAfterFlush) this.#flush();
    else if (this.#deferFlush) this.#flushSoon();
    else if (this.#feeding) this.#flushAfterFeed = true;
    else this.#flush();
  }

  /**
   * Writes once the current job is done, as a promise job: the packets of a
   * burst (the publishes a batch of PUBACKs lets out, each from its own
   * awaiting caller) go to the socket in one write instead of one each. Only
   * where a promise is involved (#deferFlush): a publish() call, or a promise
   * settled. Without one (send() and its callbacks, timers) everything the event
   * makes is already there when the outermost #feed ends, and it is written
   * then: a promise job per message was ~50 slots of garbage on XS.
   */
  #flushSoon(): void {
    if (this.#flushQueued || this.#out.empty) return;
    this.#flushQueued = true;
    void Promise.resolve().then(this.#flushJob);
  }

  /** #flushSoon's job, made once (a closure per publish was garbage on XS). */
  readonly #flushJob = (): void => {
    this.#flushQueued = false;
    this.#flush();
  };

  /**
   * An incoming message to its handlers and "message" listeners. Without
   * handlers no Map iterator is made, and a single listener is called directly:
   * on XS the iterator, #emit's rest array, its copy of the list and the event's
   * name (a string literal) were garbage for every message received.
   */
  #deliver(p: PublishPacket): void {
    if (this.#handlers.size !== 0) {
      for (const [filter, handler] of this.#handlers) {
        if (topicMatches(filter, p.topic)) {
          try {
            handler(p.topic, p.payload, p);
          } catch (e) {
            this.#emit("error", e instanceof MoteError ? e : new MoteError("handler", String(e)));
          }
        }
      }
    }
    const l = this.#listeners.message;
    if (l === undefined || l.length === 0) return;
    if (l.length !== 1) return this.#emit(MESSAGE, p.topic, p.payload, p);
    try {
      l[0](p.topic, p.payload, p);
    } catch (e) {
      this.#emit("error", e instanceof MoteError ? e : new MoteError("listener", String(e)));
    }
  }

  /** Writes queued bytes within the socket's budget; closes after the last byte if asked. */
  #flush(): void {
    const s = this.#socket;
    const out = this.#out;
    if (s === undefined) {
      out.drop();
      return;
    }
    while (this.#opened && !out.empty && this.#budget > 0) {
      // several small packets go out as one write (one host call, one syscall on the desktop)
      const chunk = out.take(this.#budget);
      try {
        s.write(chunk);
      } catch (e) {
        this.#down("error", String(e));
        return;
      }
      this.#budget -= chunk.length;
    }
    // close once the last byte is written (DISCONNECT), or at once if the socket never connected
    if (this.#closeAfterFlush && (out.empty || !this.#opened)) {
      this.#closeAfterFlush = false;
      this.#socket = undefined;
      s.close();
      this.#afterClose();
    }
  }

  // ------------------------------------------------------------ connection

  /** One event into the link lifecycle, its actions run, its alarm re-armed. */
  #drive(event: LinkEvent): void {
    const actions = this.#link.handle(event, now());
    for (const a of actions) this.#runLink(a);
    this.#linkAlarm.arm(this.#link.nextDeadline());
  }

  #runLink(a: LinkAction): void {
    switch (a.type) {
      case OPEN:
        this.#open(a.broker);
        break;
      case "abandon":
        this.#openAttempt++; // a DNS answer or socket event still on its way is for a dead attempt
        if (a.code === "timeout") this.#teardown("timeout", "no connection to the broker within connectTimeoutMs");
        else this.#teardown(undefined); // the network came back: no fault of this attempt to report
        break;
      case "wait":
        this.#emit("reconnect", { attempt: a.failures, delayMs: a.delayMs });
        break;
      case "failed-over": {
        // The will, on the new broker, ahead of what the "connect" listeners publish
        // (#feed queues both in order: this runs inside the CONNACK's event).
        const w = this.#options.will;
        if (w === undefined || this.#options.willOnFailover === false) break;
        const payload = typeof w.payload === "string" ? encodeUtf8(w.payload) : w.payload;
        this.#feed({ type: PUBLISH, message: { topic: w.topic, payload, qos: w.qos, retain: w.retain } });
        break;
      }
    }
  }

  #open(broker: number): void {
    if (this.#ended) return;
    const t = this.#targets[broker] ?? this.#targets[0];
    // credentials of this broker's URL, else the options'
    const o = this.#options;
    const login = { username: t.username ?? o.username, password: t.password ?? o.password };
    const attempt = ++this.#openAttempt;
    this.#opened = false;
    this.#budget = 0;
    this.#closeAfterFlush = false;
    resolveHost(t.host, (address, error) => {
      if (attempt !== this.#openAttempt) return;
      if (this.#ended) return this.#finish();
      if (address === undefined) return this.#down(error ?? "dns", `cannot resolve ${t.host}`);
      const handlers: StreamHandlers = {
        onWritable: (count) => {
          if (attempt !== this.#openAttempt) return;
          this.#budget = count;
          if (!this.#opened) {
            this.#opened = true;
            this.#drive({ type: "transport-up" });
            if (this.session.state === DISCONNECTED) this.#feed({ type: OPEN, login });
            else this.#flush();
          } else this.#flush();
        },
        onReadable: () => {
          const s = this.#socket;
          if (s === undefined || attempt !== this.#openAttempt) return;
          // What the host announced, into the socket's reused scratch (the session
          // copies what it keeps), then anything past it: the count is only a hint
          // (platform/tcp.ts); that second read usually finds nothing and makes nothing.
          const data = s.readScratch();
          if (data && data.length) this.#feedBytes(data, true);
          if (this.#socket !== s || attempt !== this.#openAttempt) return;
          const more = s.read();
          if (more && more.length) this.#feedBytes(more, false);
        },
        onError: (code, message) => {
          if (attempt === this.#openAttempt) this.#down(code, message);
        },
      };
      try {
        this.#socket = t.tls
          ? connectTls({ address, port: t.port, host: o.servername ?? t.host, ca: o.ca, cert: o.cert, key: o.key, verify: o.verify ?? true, ...handlers })
          : connectTcp({ address, port: t.port, nodelay: true, ...handlers });
      } catch (e) {
        this.#down("error", String(e));
      }
    });
  }

  /**
   * "persist": the session changed. Saved at once, or — connected, with
   * `saveDelayMs` — when the delay is over, by when the broker has usually
   * acknowledged the message and the store finds nothing changed (store.ts
   * writes nothing then). Offline there is no acknowledgement to wait for, and a
   * change of the incoming QoS 2 ids is saved before its PUBREC / PUBCOMP leaves.
   */
  #persist(incoming: boolean): void {
    const alarm = this.#saveAlarm;
    if (alarm === undefined || incoming || this.session.state !== CONNECTED) return this.#save();
    if (this.#saveOwed) return;
    this.#saveOwed = true;
    alarm.arm(now() + this.#options.saveDelayMs!);
  }

  /**
   * The delay is over. A message taken since the last save and not yet
   * acknowledged is saved now if it has waited the whole delay; if every such
   * message is younger (a message a second meets the alarm just after the
   * newest went out), the save waits for the oldest one's turn instead.
   */
  #saveDue(): void {
    // Steady telemetry: the message the alarm was for is acknowledged and nothing is held;
    // #save() then writes nothing, and no walk of the in-flight messages is made (its
    // iterators were garbage on XS at every message).
    if (this.#holdsNothing()) return this.#save();
    const delay = this.#options.saveDelayMs!;
    const oldest = this.session.oldestTakenSince(this.#savedAt);
    const t = now();
    if (oldest !== undefined && t - oldest < delay && this.session.state === CONNECTED) return this.#saveAlarm!.arm(oldest + delay);
    this.#save();
  }

  #save(): void {
    this.#saveOwed = false;
    this.#saveAlarm?.arm(undefined);
    // Steady telemetry: the message was acknowledged before the delayed save, and
    // the store already says "nothing held" — no snapshot, no encoding (garbage on XS).
    const empty = this.#holdsNothing();
    if (empty && this.#savedEmpty) return;
    try {
      this.#savedAt = now();
      this.#options.store?.save(this.session.snapshot());
      this.#savedEmpty = empty;
    } catch (e) {
      this.#emit("error", e instanceof MoteError ? e : new MoteError("store", String(e)));
    }
  }

  /** No QoS 1/2 message in flight or queued, and no incoming QoS 2 id: what an empty snapshot says. */
  #holdsNothing(): boolean {
    const s = this.session;
    return s.inflightCount === 0 && s.queuedCount === 0 && s.incomingCount === 0;
  }

  /** The socket failed or the peer closed it: torn down, and the lifecycle decides what next. */
  #down(code: SocketErrorCode, message?: string): void {
    if (!this.#teardown(code, message)) return;
    this.#drive({ type: "lost" });
  }

  /**
   * Closes the attempt's socket and tells the session; "error" (unless `code` is
   * undefined), "offline" and "close" follow. Returns false when the client is
   * done (ended) and nothing follows.
   */
  #teardown(code: SocketErrorCode | undefined, message?: string): boolean {
    const s = this.#socket;
    this.#socket = undefined;
    s?.close();
    // A close after CONNACK is the connection ending (its cause, if any, was already
    // reported); before CONNACK it is why the attempt failed, and is said.
    const state = this.session.state;
    this.#run(this.session.handle({ type: CLOSED }, now()));
    this.#armAlarm();
    if (code === "closed" && state === CONNECTING) message ??= "the broker closed the connection before CONNACK";
    if (code !== undefined && (code !== "closed" || state === CONNECTING || state === DISCONNECTED)) this.#emit("error", new MqttConnectionError(code, message));
    return this.#closed();
  }

  /** After the session closed its connection (DISCONNECT sent, protocol error, keepalive). */
  #afterClose(): void {
    if (this.#closed()) this.#drive({ type: "lost" });
  }

  #closed(): boolean {
    if (this.#saveOwed) this.#save(); // what was in flight waits offline now
    this.#out.drop();
    this.#emit("offline");
    this.#emit("close");
    if (this.#ended || this.session.state === ENDED) {
      this.#finish();
      return false;
    }
    return true;
  }

  /**
   * The network is back (the device got an IP again): the failures that grew
   * the reconnect delay were the network's, not the broker's, so the backoff
   * starts over and an attempt starts now. An attempt still in flight was begun
   * without a network (or on the one that went away) and may wait out its whole
   * deadline: it is abandoned and a fresh one started (reconnect.ts). No effect
   * while connected, after end(), or with reconnect off once the link was lost.
   */
  reconnectNow(): void {
    if (!this.#ended) this.#drive({ type: "network-up" });
  }

  #finish(): void {
    if (this.#saveOwed) this.#save();
    this.#saveAlarm?.close();
    this.#drive({ type: END });
    this.#linkAlarm.arm(undefined);
    this.#linkAlarm.close();
    this.#alarm.arm(undefined);
    this.#alarm.close();
    this.#pending.failAll(() => new MqttRequestError({ code: "ended" }));
    const w = this.#endWaiters;
    this.#endWaiters = [];
    for (const f of w) f();
  }
}

/** Connects in the background; listen for "connect" / "error", or just publish (queued until connected). */
export function connect(urlOrOptions: string | ClientOptions, options: ClientOptions = {}): MqttClient {
  return new MqttClient(typeof urlOrOptions === "string" ? { ...options, url: urlOrOptions } : urlOrOptions);
}
