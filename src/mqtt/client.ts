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
 */
import { MoteError, nameError } from "../errors.js";
import { now } from "../platform/clock.js";
import { Alarm } from "../platform/timer.js";
import { connectTcp, type SocketErrorCode, type StreamHandlers, type StreamSocket } from "../platform/tcp.js";
import { connectTls } from "../platform/tls.js";
import { resolveHost } from "../platform/dns.js";
import { randomInt } from "../platform/random.js";
import { LinkLifecycle, type LinkAction, type LinkEvent } from "./reconnect.js";
import { encodeUtf8 } from "../util/utf8.js";
import {
  MqttSession,
  type CloseReason,
  type Failure,
  type FailureCode,
  type SessionAction,
  type SessionEvent,
  type SessionOptions,
} from "./session.js";
import type { ConnackPacket, Properties, PublishPacket, QoS, Subscription } from "./packets.js";
import type { SessionStore } from "./store.js";
import { topicMatches } from "./topic.js";

export interface ReconnectOptions {
  /** First delay cap, ms (default 1000). */
  initialDelayMs?: number;
  /** Largest delay, ms (default 60000). */
  maxDelayMs?: number;
  /** A connection that lasted this long resets the backoff, ms (default 30000). */
  stableAfterMs?: number;
}

/** One broker of a list: credentials here apply to it alone (over `username` / `password`). */
export interface BrokerTarget {
  host: string;
  port: number;
  tls: boolean;
  username?: string;
  password?: string;
}

export interface ClientOptions extends Omit<SessionOptions, "clientId"> {
  /**
   * mqtt://[user:pass@]host[:port] or mqtts://... (credentials percent-decoded);
   * several, separated by commas, are a broker list (a ',' inside credentials is written %2C).
   */
  url?: string;
  /** A broker list as targets (instead of `url` / `host`). */
  brokers?: readonly BrokerTarget[];
  host?: string;
  port?: number;
  /** "mqtts" = TLS (default port 8883), "mqtt" = TCP (default port 1883). */
  protocol?: "mqtt" | "mqtts";
  clientId?: string;
  /** TLS: trusted CA (DER or PEM bytes), client certificate and key; verify defaults to true. */
  ca?: Uint8Array;
  cert?: Uint8Array;
  key?: Uint8Array;
  verify?: boolean;
  /** Server name for TLS verification (default: host). */
  servername?: string;
  /** false turns reconnecting off. */
  reconnect?: ReconnectOptions | false;
  /**
   * With a broker list: after a connection is lost and the next one is up on
   * another broker, publish the will first thing (the lost broker may have died
   * with it; reconnect.ts). Default true; no effect without a will.
   */
  willOnFailover?: boolean;
  /** Where a persistent session is kept across reboots. */
  store?: SessionStore;
  /** Bytes waiting for the socket, at most (default 65536); QoS 0 publishes past it are refused. */
  maxWriteBuffer?: number;
  /** v5 enhanced authentication: answers a server AUTH challenge with the next data. */
  onAuth?(challenge: { reasonCode: number; data?: Uint8Array; properties?: Properties }): Uint8Array | undefined;
}

export interface PublishOptions {
  qos?: QoS;
  retain?: boolean;
  properties?: Properties;
}

export interface SubscribeOptions {
  qos?: QoS;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  retainHandling?: 0 | 1 | 2;
  properties?: Properties;
}

export type MessageHandler = (topic: string, payload: Uint8Array, packet: PublishPacket) => void;

/** A publish/subscribe that did not complete: queue full, refused by the server, client ended... */
export class MqttRequestError extends MoteError<FailureCode> {
  static {
    nameError(this, "MqttRequestError");
  }
  readonly reasonCode: number | undefined;
  constructor(f: Failure) {
    super(f.code, f.message);
    this.reasonCode = f.reasonCode;
  }
}

/** Why a connection ended, as the "error" event carries it. */
export class MqttConnectionError extends MoteError<CloseReason["code"] | SocketErrorCode> {
  static {
    nameError(this, "MqttConnectionError");
  }
  readonly reasonCode: number | undefined;
  readonly serverReference: string | undefined;
  constructor(code: CloseReason["code"] | SocketErrorCode, message?: string, reasonCode?: number, serverReference?: string) {
    super(code, message);
    this.reasonCode = reasonCode;
    this.serverReference = serverReference;
  }
}

export interface ClientEvents {
  connect: (info: { sessionPresent: boolean; connack: ConnackPacket }) => void;
  reconnect: (info: { attempt: number; delayMs: number }) => void;
  offline: () => void;
  close: () => void;
  error: (error: MoteError) => void;
  message: MessageHandler;
}

const noop = (): void => {};

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** A QoS 0 publish: resolves once its bytes are written. */
  qos0?: boolean;
}

type Target = BrokerTarget;

/** Largest broker list a client takes. */
export const MAX_BROKERS = 8;

/** Parses a comma-separated broker list of mqtt(s):// URLs (at most MAX_BROKERS). */
export function parseMqttUrls(text: string): Target[] {
  const parts = text.split(",").map((u) => u.trim());
  if (parts.length > MAX_BROKERS) throw new MoteError("invalid-url", `at most ${MAX_BROKERS} brokers`);
  return parts.map(parseMqttUrl);
}

/** Parses mqtt://user:pass@host:port (no URL global on XS). */
export function parseMqttUrl(url: string): Target {
  const m = /^(mqtts?):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?(\[[^\]]+\]|[^:/?#]+)(?::(\d{1,5}))?(?:[/?#].*)?$/.exec(url);
  if (m === null) throw new MoteError("invalid-url", url);
  const tls = m[1] === "mqtts";
  const t: Target = { host: m[4].replace(/^\[|\]$/g, ""), port: m[5] ? Number(m[5]) : tls ? 8883 : 1883, tls };
  if (!(t.port >= 1 && t.port <= 65535)) throw new MoteError("invalid-url", `port ${m[5]}`);
  if (m[2]) t.username = decodeUserInfo(m[2], "user name");
  if (m[3] !== undefined) t.password = decodeUserInfo(m[3], "password");
  return t;
}

/** RFC 3986 §2.1 percent-decoding; a bad escape or non-UTF-8 result is invalid-url, not URIError. */
function decodeUserInfo(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new MoteError("invalid-url", `bad %-escape in the ${what}`);
  }
}

/** Events a listener may queue from inside one session event (#feed) before they are handled in place. */
const MAX_LATER = 64;

export class MqttClient {
  readonly session: MqttSession;
  readonly #targets: readonly Target[];
  readonly #options: ClientOptions;
  readonly #alarm: Alarm;
  readonly #listeners: { [K in keyof ClientEvents]?: ClientEvents[K][] } = {};
  readonly #handlers = new Map<string, MessageHandler>();
  #socket: StreamSocket | undefined;
  #opened = false;
  #budget = 0;
  #out: { data: Uint8Array; done?: () => void }[] = [];
  #outBytes = 0;
  #closeAfterFlush = false;
  /** When to attempt, abandon and wait (reconnect.ts), woken by #linkAlarm. */
  readonly #link: LinkLifecycle;
  readonly #linkAlarm: Alarm;
  /** Bumped by every attempt: callbacks of a replaced attempt are ignored. */
  #openAttempt = 0;
  #ended = false;
  #endWaiters: (() => void)[] = [];
  #nextRef = 1;
  #pending = new Map<number, Pending>();
  /** True while the session handles an event (see #feed). */
  #feeding = false;
  /** Events from listeners that ran inside #feed: handled when it returns, in order. */
  #later: SessionEvent[] = [];

  constructor(options: ClientOptions) {
    this.#options = options;
    let targets: Target[];
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
    this.#alarm = new Alarm(() => this.#feed({ type: "timer" }));
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
    this.#linkAlarm = new Alarm(() => this.#drive({ type: "timer" }));
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
    return this.session.state === "connected";
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
    const max = this.#options.maxWriteBuffer ?? 65_536;
    if (qos === 0 && this.#outBytes > max) return Promise.reject(new MoteError("overflow", "write buffer full"));
    const message: SessionEvent & { type: "publish" } = {
      type: "publish",
      message: { topic, payload: typeof payload === "string" ? encodeUtf8(payload) : payload, qos, retain: options.retain ?? false },
    };
    if (options.properties) message.message.properties = options.properties;
    // #request written out here: a publish is the deepest path on the device (a
    // command's reply), and one frame fewer keeps it under Moddable's 384 slots.
    const ref = this.#nextRef++;
    const pending: Pending = { resolve: noop, reject: noop, qos0: qos === 0 };
    const promise = new Promise<void>((resolve, reject) => {
      pending.resolve = resolve as (value: unknown) => void;
      pending.reject = reject;
    });
    this.#pending.set(ref, pending);
    try {
      this.#feed({ ...message, ref } as SessionEvent);
    } catch (e) {
      this.#pending.delete(ref);
      pending.reject(e as Error);
    }
    return promise;
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
    const event: SessionEvent = { type: "subscribe", subscriptions };
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
    const promise = this.#request({ type: "unsubscribe", filters }) as Promise<number[]>;
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
    if (!this.#ended) {
      this.#ended = true;
      this.#drive({ type: "end" });
      this.#feed({ type: "end", force: options.force ?? false });
      if (this.#socket === undefined) this.#finish();
    } else if (this.#socket === undefined) this.#finish();
    return done;
  }

  #request(event: SessionEvent): Promise<unknown> {
    const ref = this.#nextRef++;
    // The session is fed after the promise exists, not from inside its executor:
    // two frames (20 slots) fewer under every publish down to the socket write
    // (Moddable's XS stack, docs/moddable.md); the same order of effects.
    const pending: Pending = { resolve: noop, reject: noop, qos0: event.type === "publish" && event.message.qos === 0 };
    const promise = new Promise((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
    });
    this.#pending.set(ref, pending);
    try {
      this.#feed({ ...event, ref } as SessionEvent);
    } catch (e) {
      this.#pending.delete(ref);
      pending.reject(e as Error);
    }
    return promise;
  }

  #settle(ref: unknown, value: unknown, error?: Error): void {
    const p = this.#pending.get(ref as number);
    if (p === undefined) return;
    this.#pending.delete(ref as number);
    if (error) p.reject(error);
    else p.resolve(value);
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
        const left = this.#later.splice(0);
        for (const e of left) this.#failLater(e, new MoteError("internal", "not handled: an earlier event failed"));
      }
    }
    this.#alarm.arm(this.session.nextDeadline());
  }

  /** A queued event the session refused by throwing: its request fails as it would have at the call. */
  #failLater(event: SessionEvent, e: unknown): void {
    const ref = (event as { ref?: number }).ref;
    if (ref !== undefined && this.#pending.has(ref)) this.#settle(ref, undefined, e instanceof Error ? e : new MoteError("internal", String(e)));
    else this.#emit("error", e instanceof MoteError ? e : new MoteError("internal", String(e)));
  }

  #run(actions: SessionAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "send":
          this.#out.push({ data: a.data });
          this.#outBytes += a.data.length;
          break;
        case "published": {
          // QoS 0 resolves once its bytes leave; the last queued write carries the resolution
          const last = this.#out[this.#out.length - 1];
          const ref = a.ref;
          if (last && this.#pending.get(ref as number)?.qos0) {
            const before = last.done;
            last.done = before ? () => (before(), this.#settle(ref, undefined)) : () => this.#settle(ref, undefined);
          } else this.#settle(ref, undefined);
          break;
        }
        case "subscribed":
          this.#settle(a.ref, a.reasonCodes);
          break;
        case "unsubscribed":
          this.#settle(a.ref, a.reasonCodes);
          break;
        case "failed":
          this.#settle(a.ref, undefined, new MqttRequestError(a.error));
          break;
        case "message":
          this.#deliver(a.packet);
          break;
        case "connected":
          this.#drive({ type: "connected" });
          this.#emit("connect", { sessionPresent: a.sessionPresent, connack: a.connack });
          break;
        case "auth": {
          const reply = this.#options.onAuth?.({ reasonCode: a.packet.reasonCode, data: a.packet.properties?.authenticationData, properties: a.packet.properties });
          this.#run(this.session.handle({ type: "auth", reasonCode: 0x18, data: reply }, now()));
          break;
        }
        case "persist":
          try {
            this.#options.store?.save(this.session.snapshot());
          } catch (e) {
            this.#emit("error", e instanceof MoteError ? e : new MoteError("store", String(e)));
          }
          break;
        case "close": {
          const r = a.reason;
          if (r.code !== "client-disconnect") this.#emit("error", new MqttConnectionError(r.code, r.message, r.reasonCode, r.serverReference));
          this.#closeAfterFlush = true;
          break;
        }
      }
    }
    this.#flush();
  }

  #deliver(p: PublishPacket): void {
    for (const [filter, handler] of this.#handlers) {
      if (topicMatches(filter, p.topic)) {
        try {
          handler(p.topic, p.payload, p);
        } catch (e) {
          this.#emit("error", e instanceof MoteError ? e : new MoteError("handler", String(e)));
        }
      }
    }
    this.#emit("message", p.topic, p.payload, p);
  }

  /** Writes queued bytes within the socket's budget; closes after the last byte if asked. */
  #flush(): void {
    const s = this.#socket;
    if (s === undefined) {
      this.#dropOut();
      return;
    }
    while (this.#opened && this.#out.length > 0 && this.#budget > 0) {
      // several small packets go out as one write (one host call, one syscall on the desktop)
      const chunk = this.#takeOut(this.#budget);
      try {
        s.write(chunk);
      } catch (e) {
        this.#down("error", String(e));
        return;
      }
      this.#budget -= chunk.length;
      this.#outBytes -= chunk.length;
    }
    // close once the last byte is written (DISCONNECT), or at once if the socket never connected
    if (this.#closeAfterFlush && (this.#out.length === 0 || !this.#opened)) {
      this.#closeAfterFlush = false;
      this.#socket = undefined;
      s.close();
      this.#afterClose();
    }
  }

  /** Up to `max` bytes from the head of the out-queue, whole packets joined; completion callbacks run. */
  #takeOut(max: number): Uint8Array {
    const head = this.#out[0];
    if (head.data.length >= max || this.#out.length === 1) {
      const n = Math.min(head.data.length, max);
      if (n === head.data.length) {
        this.#out.shift();
        head.done?.();
        return head.data;
      }
      const part = head.data.subarray(0, n);
      head.data = head.data.subarray(n);
      return part;
    }
    let total = 0;
    let count = 0;
    while (count < this.#out.length && total + this.#out[count].data.length <= max) total += this.#out[count++].data.length;
    if (count <= 1) return this.#takeOut(Math.min(max, head.data.length));
    const joined = new Uint8Array(total);
    let o = 0;
    for (let i = 0; i < count; i++) {
      const e = this.#out.shift()!;
      joined.set(e.data, o);
      o += e.data.length;
      e.done?.();
    }
    return joined;
  }

  #dropOut(): void {
    for (const o of this.#out) o.done?.();
    this.#out.length = 0;
    this.#outBytes = 0;
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
      case "open":
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
        this.#feed({ type: "publish", message: { topic: w.topic, payload, qos: w.qos, retain: w.retain } });
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
            if (this.session.state === "disconnected") this.#feed({ type: "open", login });
            else this.#flush();
          } else this.#flush();
        },
        onReadable: () => {
          const s = this.#socket;
          if (s === undefined || attempt !== this.#openAttempt) return;
          // Take all the host holds in one read: the session keeps its own bounded
          // buffer (maxPacket), and the count is only a hint anyway (platform/tcp.ts).
          const data = s.read();
          if (data && data.length) this.#feed({ type: "bytes", data });
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
    this.#run(this.session.handle({ type: "closed" }, now()));
    this.#alarm.arm(this.session.nextDeadline());
    if (code === "closed" && state === "connecting") message ??= "the broker closed the connection before CONNACK";
    if (code !== undefined && (code !== "closed" || state === "connecting" || state === "disconnected")) this.#emit("error", new MqttConnectionError(code, message));
    return this.#closed();
  }

  /** After the session closed its connection (DISCONNECT sent, protocol error, keepalive). */
  #afterClose(): void {
    if (this.#closed()) this.#drive({ type: "lost" });
  }

  #closed(): boolean {
    this.#dropOut();
    this.#emit("offline");
    this.#emit("close");
    if (this.#ended || this.session.state === "ended") {
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
    this.#drive({ type: "end" });
    this.#linkAlarm.arm(undefined);
    this.#linkAlarm.close();
    this.#alarm.arm(undefined);
    this.#alarm.close();
    for (const [, p] of this.#pending) p.reject(new MqttRequestError({ code: "ended" }));
    this.#pending.clear();
    const w = this.#endWaiters;
    this.#endWaiters = [];
    for (const f of w) f();
  }
}

/** Connects in the background; listen for "connect" / "error", or just publish (queued until connected). */
export function connect(urlOrOptions: string | ClientOptions, options: ClientOptions = {}): MqttClient {
  return new MqttClient(typeof urlOrOptions === "string" ? { ...options, url: urlOrOptions } : urlOrOptions);
}
