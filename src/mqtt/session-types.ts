/**
 * The vocabulary of the MQTT session (session.ts): its options, the events a
 * binding feeds it, the actions it returns, and the snapshot a store keeps.
 * Types only; nothing here runs.
 */
import type { MqttProtocolError } from "./errors.js";
import type { AuthPacket, ConnackPacket, MqttPacket, Properties, ProtocolVersion, PublishPacket, QoS, Subscription, Will } from "./packets.js";

export type SessionState = "disconnected" | "connecting" | "connected" | "ending" | "ended";

export type QueuePolicy = "drop-oldest-qos0" | "reject";

export interface SessionOptions {
  /** Client identifier; "" lets the server assign one (v5 §3.2.2.3.7; 3.1.1 needs clean). */
  clientId: string;
  /** 4 = MQTT 3.1.1, 5 = MQTT 5.0 (default 5). */
  protocolVersion?: ProtocolVersion;
  /** Clean Session / Clean Start on the first connection (default true). */
  clean?: boolean;
  /** v5 Session Expiry Interval, seconds. Default 0 when clean, 86400 when not. */
  sessionExpiry?: number;
  /** Keep Alive, seconds (default 60; 0 = off). The server's Server Keep Alive wins (v5 §3.2.2.3.14). */
  keepAlive?: number;
  /** How long to wait for PINGRESP before calling the link dead, ms (default min(10000, keepAlive)). */
  pingTimeoutMs?: number;
  /** How long to wait for CONNACK, ms (default 30000). */
  connectTimeoutMs?: number;
  username?: string;
  password?: string | Uint8Array;
  will?: Will;
  /** Extra v5 CONNECT properties (user properties, request problem information, ...). */
  connectProperties?: Properties;
  /** Outgoing QoS 1/2 messages awaiting acknowledgement, at most (default 16; also capped by the server's Receive Maximum). */
  maxInflight?: number;
  /**
   * Our Receive Maximum: incoming QoS 2 messages held until PUBREL (default 64).
   * Sent to v5 servers (§3.1.2.11.3); 3.1.1 has no such field, so it is only
   * our bound there (mosquitto's default in-flight window is 20).
   */
  receiveMaximum?: number;
  /** Largest packet we accept (default 16384); sent to a v5 server as Maximum Packet Size. */
  maxPacketSize?: number;
  /** Topic aliases we accept from the server (default 16; 0 = none). */
  topicAliasMaximum?: number;
  /** Topic aliases we use toward the server, at most (default 16; also capped by the server). */
  outgoingTopicAliases?: number;
  /** Offline/overflow queue bound, messages (default 100). */
  queueMaxMessages?: number;
  /** Offline/overflow queue bound, payload + topic bytes (default 65536). */
  queueMaxBytes?: number;
  /**
   * When the queue is full: "drop-oldest-qos0" (default) drops the oldest
   * queued QoS 0 message to make room and rejects the new one only when no
   * QoS 0 message is queued; "reject" always rejects the new one.
   */
  queuePolicy?: QueuePolicy;
  /** Subscription table bound (default 64 filters). */
  maxSubscriptions?: number;
  /** v5 enhanced authentication (§4.12): method and first data. AUTH challenges come out as "auth" actions. */
  authenticationMethod?: string;
  authenticationData?: Uint8Array;
  /** How long a graceful end may wait for in-flight messages, ms (default 10000). */
  endTimeoutMs?: number;
  /** Emit "persist" actions when the session state changes (default: !clean). */
  persistent?: boolean;
}

export interface OutgoingMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain?: boolean;
  properties?: Properties;
  /**
   * The session reads `payload` during this event only (the caller reuses the
   * array, e.g. a JSON writer's scratch): what it keeps is its own bytes — a
   * view of the PUBLISH it encoded, or a copy when the message has to wait.
   */
  borrowed?: boolean;
}

export type SessionEvent =
  /**
   * Begin a connection: CONNECT goes out. `login` (a broker list with its own
   * credentials per broker, client.ts) replaces the options' user name and
   * password for this connection.
   */
  | { type: "open"; login?: { username?: string; password?: string | Uint8Array } }
  /** `borrowed`: the caller writes `data` again once handle() returns (a socket's read scratch); the session copies what it keeps. */
  | { type: "bytes"; data: Uint8Array; borrowed?: boolean }
  | { type: "timer" }
  | { type: "closed" }
  | { type: "publish"; message: OutgoingMessage; ref?: unknown }
  | { type: "subscribe"; subscriptions: Subscription[]; properties?: Properties; ref?: unknown }
  | { type: "unsubscribe"; filters: string[]; properties?: Properties; ref?: unknown }
  | { type: "auth"; reasonCode: number; data?: Uint8Array }
  | { type: "end"; force?: boolean; reasonCode?: number };

export type FailureCode =
  | "queue-full"
  | "dropped"
  | "rejected"
  | "ended"
  | "packet-too-large"
  | "qos-not-supported"
  | "retain-not-supported";

export interface Failure {
  code: FailureCode;
  reasonCode?: number;
  message?: string;
}

export type CloseCode =
  | "keepalive-timeout"
  | "connect-timeout"
  | "connect-refused"
  | "server-disconnect"
  | "client-disconnect"
  | "end-timeout"
  | MqttProtocolError["code"];

export interface CloseReason {
  code: CloseCode;
  /** v5 reason code (3.1.1 CONNACK return codes are mapped to v5). */
  reasonCode?: number;
  message?: string;
  /** v5 Server Reference (§4.11) from a CONNACK or DISCONNECT. */
  serverReference?: string;
}

export type SessionAction =
  /**
   * Bytes to write now. Those of a QoS 1/2 PUBLISH with a borrowed payload are a
   * kept buffer, written again once that message is acknowledged: write or copy
   * them before handing the session its next acknowledgement. The `packet` of a
   * message with a borrowed payload is filled again by the next such message.
   */
  | { type: "send"; data: Uint8Array; packet: MqttPacket }
  | { type: "connected"; sessionPresent: boolean; connack: ConnackPacket }
  | { type: "message"; packet: PublishPacket }
  | { type: "published"; ref: unknown; reasonCode: number }
  | { type: "subscribed"; ref: unknown; reasonCodes: number[] }
  | { type: "unsubscribed"; ref: unknown; reasonCodes: number[] }
  | { type: "failed"; ref: unknown; error: Failure }
  | { type: "auth"; packet: AuthPacket }
  /**
   * Save `snapshot()` (with a store). `incoming`: the incoming QoS 2 ids changed, so
   * the save comes before the PUBREC / PUBCOMP of this event goes out (exactly once
   * across a power cut, §4.3.3); a change of the outgoing messages alone may wait.
   */
  | { type: "persist"; incoming?: boolean }
  | { type: "close"; reason: CloseReason };

/** What `snapshot()` returns and `restore()` takes: the part of a session worth a reboot. */
export interface SessionSnapshot {
  clientId: string;
  /** Outgoing QoS 1/2 messages with ids, in send order; `released` = PUBREC seen, PUBREL owed. */
  outgoing: { packet: PublishPacket; released: boolean }[];
  /** Queued QoS 1/2 messages not yet given an id. */
  queued: PublishPacket[];
  /** Incoming QoS 2 ids received and not yet released (exactly-once, §4.3.3). */
  incoming: number[];
}
