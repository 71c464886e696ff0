/**
 * What an MQTT client's user sees besides the MqttClient class (client.ts):
 * its options, the publish / subscribe options, the events, and the two error
 * classes its promises and "error" event carry. Types and two small classes
 * only, so the options can be read without the machinery.
 */
import { MoteError, nameError } from "../errors.js";
import type { SocketErrorCode } from "../platform/tcp.js";
import type { BrokerTarget } from "./urls.js";
import type { CloseReason, Failure, FailureCode, SessionOptions } from "./session-types.js";
import type { ConnackPacket, Properties, PublishPacket, QoS } from "./packets.js";
import type { SessionStore } from "./store.js";

export interface ReconnectOptions {
  /** First delay cap, ms (default 1000). */
  initialDelayMs?: number;
  /** Largest delay, ms (default 60000). */
  maxDelayMs?: number;
  /** A connection that lasted this long resets the backoff, ms (default 30000). */
  stableAfterMs?: number;
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
  /**
   * With a `store`, while connected: how long (ms) a change waits before it is
   * saved. A QoS 1/2 message the broker completes within it is never written —
   * on the ESP32 that spares two flash writes a message (NVS wear). A change
   * while not connected (a message queued offline), a lost connection and
   * `end()` save at once. What a power cut can lose: a message sent within the
   * last `saveDelayMs` and not yet acknowledged. Default 0: every change is
   * saved before its packet goes out.
   */
  saveDelayMs?: number;
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
