/**
 * `MqttConnector` over mote's MQTT client (src/mqtt): the client reconnects by
 * itself with backoff and keeps QoS 1 messages in its session (offline queue,
 * in-flight window) across reconnects — what the device program relies on.
 *
 * Reboots and power cuts. With `session` (the default program passes the
 * platform preferences) the client's `clean: false` session is kept in a
 * `PreferenceSessionStore` (src/mqtt/store.ts, torn-write safe), and the next
 * link — after a reboot too — loads it and delivers what it holds after its
 * first connect (MQTT 3.1.1 §4.4: resent with DUP when the broker kept the
 * session). A QoS 1 message the link accepts while offline is saved at once.
 * Online it is saved only if the broker has not acknowledged it within
 * `saveDelayMs` (default 2 s; the client's option): steady telemetry then
 * writes no flash at all, where a save per message (two NVS writes) would wear
 * the boards' 20 KB NVS partition out within months at one message a second.
 * A lost connection, a reboot and `end()` save what is held at once.
 *
 * Bounds. A store record is at most `maxBytes`; what does not fit is not
 * saved (src/mqtt/store.ts keeps in-flight messages first, then as much of the
 * queue as fits). So the link refuses a QoS 1 publish (`publish` returns
 * false, the app counts `msgsDropped`) unless the session — in flight plus
 * queued, restored messages included — still fits in one record with it:
 * whatever the link accepted survives a power cut. The bound is measured
 * with an upper bound of each message's stored size (topic + payload +
 * STORED_OVERHEAD), so a refusal comes slightly early, never late. The one
 * exception: a message larger than a whole record is taken when nothing else
 * is held (and everything else refused while it is), in RAM only.
 */
import { connect, PreferenceSessionStore, type MessageHandler, type MqttClient, type PreferenceApi, type SessionStore } from "../../mqtt/index.js";
import { MESSAGE } from "../../mqtt/names.js";
import { utf8Length } from "../../util/utf8.js";
import type { MqttConnector, MqttLink, MqttLinkEvent, MqttLinkOptions } from "../ports.js";

export interface MqttSessionStoreOptions {
  /** The preference store (the default program passes src/platform/preferences.ts). */
  prefs: PreferenceApi;
  /** Preference domain of the session records, ≤ 15 characters (NVS). Default "mote-mqtt". */
  domain?: string;
  /** Largest record, bytes (src/mqtt/store.ts). Default 5120: see docs/device-program.md for the NVS budget. */
  maxBytes?: number;
  /** Bytes per preference value. Default 1024. */
  chunkBytes?: number;
  /** Online, how long a message waits for its PUBACK before it is saved, ms (the client's `saveDelayMs`). Default 2000; 0 saves every message before it goes out. */
  saveDelayMs?: number;
}

export interface MqttAdapterOptions {
  /** Protocol version: 4 = MQTT 3.1.1 (default, widest broker support), 5 = MQTT 5.0. */
  protocolVersion?: 4 | 5;
  /** Messages held at most: QoS 1 in flight + queued, and the client's offline queue (QoS 0 too). Default 100. */
  queueMaxMessages?: number;
  /** Offline queue bound of the client, bytes of topic + payload (QoS 0 included). Default 32768. */
  queueMaxBytes?: number;
  /** Reconnect backoff of the client. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number; stableAfterMs?: number };
  /** Keep the session (QoS 1 in flight and queued) across reboots; absent or false: RAM only. */
  session?: MqttSessionStoreOptions | false;
}

/** Session store defaults of the device program (docs/device-program.md, "Reboots and power cuts"). */
export const SESSION_DOMAIN = "mote-mqtt";
export const SESSION_MAX_BYTES = 5120;
export const SESSION_CHUNK_BYTES = 1024;
export const SESSION_SAVE_DELAY_MS = 2000;

/**
 * Upper bound of what a message adds to a store record beyond topic + payload:
 * released flag 1, fixed header 1 + remaining length ≤ 4, topic length 2,
 * packet id 2, v5 property length 1 (src/mqtt/store.ts encodes MQTT 5 PUBLISH).
 */
const STORED_OVERHEAD = 11;
/** The outcome of every message sent: one object, not one per message. */
const SENT: MqttLinkEvent = Object.freeze({ type: "sent" });
/** Record header 16 + client id length 2 + three u16 counts. */
const RECORD_OVERHEAD = 16 + 2 + 6;

export function mqttConnector(adapter: MqttAdapterOptions = {}): MqttConnector {
  const s = adapter.session === false ? undefined : adapter.session;
  const inner =
    s === undefined
      ? undefined
      : new PreferenceSessionStore(s.prefs, s.domain ?? SESSION_DOMAIN, {
          maxBytes: s.maxBytes ?? SESSION_MAX_BYTES,
          chunkBytes: s.chunkBytes ?? SESSION_CHUNK_BYTES,
        });
  const maxHeld = adapter.queueMaxMessages ?? 100;
  return (options: MqttLinkOptions, onEvent: (event: MqttLinkEvent) => void): MqttLink => {
    // a clean session is not worth keeping (MQTT 3.1.1 §3.1.2.4)
    const store = inner === undefined || options.cleanSession ? undefined : forClient(inner, options.clientId);
    // Bytes (topic + payload + overhead per message) one store record holds for this client id.
    const budget = store === undefined ? Infinity : (s!.maxBytes ?? SESSION_MAX_BYTES) - RECORD_OVERHEAD - utf8Length(options.clientId);
    let lastError = "connecting";
    const client: MqttClient = connect({
      host: options.host,
      port: options.port,
      protocol: options.tls ? "mqtts" : "mqtt",
      // a broker list: failover with the session and queue kept (src/mqtt/client.ts)
      brokers: options.brokers?.map((b) => ({ host: b.host, port: b.port, tls: b.tls, username: b.username, password: b.password })),
      ca: options.ca,
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      keepAlive: options.keepAliveS,
      clean: options.cleanSession,
      protocolVersion: adapter.protocolVersion ?? 4,
      will: { topic: options.will.topic, payload: options.will.payload, qos: options.will.qos, retain: options.will.retain },
      queueMaxMessages: maxHeld,
      queueMaxBytes: adapter.queueMaxBytes ?? 32_768,
      queuePolicy: "reject",
      reconnect: adapter.reconnect ?? { initialDelayMs: 500, maxDelayMs: 30_000, stableAfterMs: 30_000 },
      store,
      saveDelayMs: s?.saveDelayMs ?? SESSION_SAVE_DELAY_MS,
    });
    client.on("connect", (info) => {
      lastError = "closed"; // a connection that ends without an error was closed by the peer
      onEvent({ type: "connect", sessionPresent: info.sessionPresent });
    });
    client.on("error", (e) => {
      // a save that did not fit (the oversized message above) is not why a link went down
      if (e.code !== "store-full") lastError = e.code;
    });
    client.on("offline", () => onEvent({ type: "offline", reason: lastError }));
    // Each message reaches the program in a job of its own, in arrival order, not
    // inside the client's read: a command may start a CoAP exchange or an update, and
    // on top of the socket, decoder and session frames that overflowed Moddable's
    // default XS stack (384 slots; docs/moddable.md). The messages one read decodes
    // are all a job holds, so this adds no queue of its own.
    // Made once per link, not per message (closures are garbage on XS); a throwing program
    // is noted as the client notes a throwing listener.
    const deliver = (event: MqttLinkEvent): void => {
      try {
        onEvent(event);
      } catch {
        lastError = "listener";
      }
    };
    const onMessage: MessageHandler = (topic, payload, packet) => {
      Promise.resolve<MqttLinkEvent>({ type: MESSAGE, topic, payload, responseTopic: packet.properties?.responseTopic }).then(deliver);
    };
    client.on(MESSAGE, onMessage);
    // A publish's outcome, told to the program: one callback made once per link, and
    // client.send() rather than a promise per message (garbage on XS).
    const outcome = (e: Error | undefined): void => {
      if (e === undefined) onEvent(SENT);
      else if ((e as { code?: string }).code !== "ended") onEvent({ type: "dropped", reason: (e as { code?: string }).code ?? "error" });
    };
    /** Room for one more QoS 1 message: by count, and (with a store) in one store record. */
    const room = (topic: string, payload: Uint8Array): boolean => {
      const session = client.session;
      // The common case, steady telemetry: the last message was acknowledged and nothing is
      // held, so it fits (alone, even one larger than a record: below). No snapshot made —
      // that was a dozen objects of garbage a publish on XS.
      if (session.inflightCount + session.queuedCount === 0) return maxHeld > 0;
      const held = session.held(); // QoS 1/2 in flight + queued: what the store saves
      if (held.outgoing.length + held.queued.length >= maxHeld) return false;
      if (budget === Infinity) return true;
      const own = utf8Length(topic) + payload.length + STORED_OVERHEAD;
      let bytes = own;
      for (const o of held.outgoing) bytes += utf8Length(o.packet.topic) + o.packet.payload.length + STORED_OVERHEAD;
      for (const q of held.queued) bytes += utf8Length(q.topic) + q.payload.length + STORED_OVERHEAD;
      if (bytes <= budget) return true;
      // Larger than a whole record (a big `coap` command result): taken only when
      // nothing else is held, and kept in RAM only — the store skips it.
      return own > budget && bytes === own;
    };
    return {
      get queueDepth() {
        return client.session.inflightCount + client.session.queuedCount;
      },
      get broker() {
        const b = client.broker;
        return b.host.includes(":") ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
      },
      publish(topic, payload, o) {
        if (o.qos === 1 && !room(topic, payload)) return false;
        client.send(topic, payload, o, outcome);
        return true;
      },
      subscribe(filter, qos) {
        client.subscribe(filter, undefined, { qos }).catch((e: { code?: string }) => {
          lastError = e?.code ?? "subscribe-failed";
        });
      },
      networkUp() {
        client.reconnectNow();
      },
      end() {
        void client.end({ force: true });
      },
    };
  };
}

/**
 * The stored session, under the configured client id: `restore()` would
 * otherwise adopt the id of the record (meant for server-assigned ids), and a
 * `clientId` changed by the `config` command would not apply. The messages of
 * the old id are still delivered (their topics name the old id).
 */
function forClient(store: SessionStore, clientId: string): SessionStore {
  return {
    load: () => {
      const snap = store.load();
      return snap === undefined ? undefined : { ...snap, clientId };
    },
    save: (snap) => store.save(snap),
    clear: () => store.clear(),
  };
}
