/**
 * The device program's view of the outside world.
 *
 * `DeviceApp` (device.ts) talks only to these small interfaces. main.ts binds
 * them to the platform layer and to the MQTT/CoAP/OTA clients; unit tests bind
 * them to in-memory fakes (test/unit/app-harness.ts), so the whole program logic
 * runs broker-free in Node with a fake clock, and the same logic runs in XS.
 */
import type { XsHeap } from "../platform/memory.js";
import type { StoredValue } from "../runtime/config.js";
import type { TrustRecord } from "../ota/trust-store.js";

// The platform's own event types: the port speaks them, so they are one definition.
export type { WifiDisconnectReason, WifiEvent } from "../platform/wifi.js";
import type { WifiEvent } from "../platform/wifi.js";

export interface WifiPort {
  connect(options: { ssid: string; password?: string; onEvent(event: WifiEvent): void }): { close(): void };
  info(): { ip?: string; mac: string; rssi?: number; ssid?: string };
  /** The signal alone, for telemetry every period: info() makes its strings (MAC, IP, SSID) each call. Default: info().rssi. */
  signal?(): number | undefined;
}

export interface MqttWill {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

/** One broker of a list, with its own credentials (from its URL) if any. */
export interface MqttBroker {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
}

export interface MqttLinkOptions {
  /** The first broker (the only one without `brokers`). */
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /**
   * A broker list, first broker first: the link moves to the next one on each
   * failure, keeping its session and offline queue (src/mqtt/reconnect.ts).
   */
  readonly brokers?: readonly MqttBroker[];
  /** CA certificate (DER) the broker must chain to (TLS only); undefined = the platform's trust store. */
  readonly ca?: Uint8Array;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  readonly keepAliveS: number;
  readonly will: MqttWill;
  /** Keep the session on the broker across reconnects (QoS 1 subscriptions survive). */
  readonly cleanSession: boolean;
}

export type MqttLinkEvent =
  | { type: "connect"; sessionPresent: boolean }
  | { type: "offline"; reason: string }
  | { type: "message"; topic: string; payload: Uint8Array; responseTopic?: string }
  /** A message the link had accepted went out: acknowledged (QoS 1) or written to the socket (QoS 0). */
  | { type: "sent" }
  /** A message the link had accepted could not be delivered (e.g. its queue overflowed). */
  | { type: "dropped"; reason: string }
  /** The link gave up for good (e.g. not authorized); the app fails its MQTT part. */
  | { type: "fatal"; reason: string };

/**
 * A long-lived MQTT connection that reconnects by itself and queues QoS 1
 * publishes while offline (bounded; `publish` returns false when the queue is full).
 */
export interface MqttLink {
  /** `payload` is read during the call only: the app may reuse its array once publish() returns. */
  publish(topic: string, payload: Uint8Array, options: { readonly qos: 0 | 1; readonly retain?: boolean }): boolean;
  subscribe(filter: string, qos: 0 | 1): void;
  /** Messages waiting to be sent or acknowledged. */
  readonly queueDepth: number;
  /** The broker in use or being tried, `host:port` (a link without a list may leave it out). */
  readonly broker?: string;
  /** The network came back: stop waiting out the reconnect backoff and connect now. */
  networkUp(): void;
  /** Disconnect (sending DISCONNECT when connected: no will) and release everything. */
  end(): void;
}

export type MqttConnector = (options: MqttLinkOptions, onEvent: (event: MqttLinkEvent) => void) => MqttLink;

/** What the program reads of a CoAP response: the client's `CoapResponse` is one, handed over as it is. */
export interface CoapResult {
  /** Response code as "2.05". */
  readonly codeText: string;
  readonly payload: Uint8Array;
  /** Observe sequence number of a notification (RFC 7641 §3.2), if any. */
  readonly observe?: number;
}

/** Whether a CoAP outcome is a failure (`{ error }`); without the `"error" in r` literal, which is a chunk per notification on XS. */
export function isCoapFailure(r: CoapResult | { error: string }): r is { error: string } {
  return (r as { error?: string }).error !== undefined;
}

export interface CoapPort {
  get(uri: string, callback: (result: CoapResult | { error: string }) => void): void;
  /** Notifications until `cancel()`; an `{error}` ends the relation (the caller may observe again). */
  observe(uri: string, onNotify: (result: CoapResult | { error: string }) => void): { cancel(): void };
}

export interface OtaPort {
  /** Start an update from a `cmd/ota` payload; progress and result through `onEvent`. */
  start(payload: Uint8Array, onEvent: (event: { type: "progress" | "done" | "error"; detail: string; reboot?: boolean }) => void): void;
  /** Updates are checked against this key from now on (a signed key rotation). */
  setPublicKey?(publicKey: Uint8Array): void;
  /** The running firmware slot and its state (`valid`, `pending-verify`...), for the discovery answer; none without slots. */
  firmware?(): { slot: string; state: string } | undefined;
}

/** The trust record store (src/ota/trust-store.ts `TrustStore`): two slots in the preferences. */
export interface TrustPort {
  readonly record: TrustRecord;
  /** Saves a record whose counter is above the one in force; throws TrustError("store") if it did not stick. */
  save(record: TrustRecord): void;
}

/** The device's stored configuration (platform preferences, domain "mote"). */
export interface ConfigStore {
  get(key: string): StoredValue | undefined;
  set(key: string, value: StoredValue): void;
  delete(key: string): void;
}

/** A pluggable sensor: one reading per telemetry cycle. */
export interface SensorSource {
  readonly name: string;
  read(now: number): number | string | boolean | Record<string, number | string | boolean> | undefined;
}

export interface SystemPort {
  /** Restart the device (the simulator restarts the engine). */
  reboot(reason: string): void;
  /** Free heap bytes, where the host tells. */
  freeMemory(): number | undefined;
  /** The XS machine's slot heap, chunk heap and peak stack in bytes, where the host tells; `collect` collects garbage first (the live heap). */
  xsHeap?(collect?: boolean): XsHeap | undefined;
}
