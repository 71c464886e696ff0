/**
 * Broker-free harness for the device program: in-memory WiFi, MQTT link, CoAP,
 * preferences and system, driven by a FakeHost clock. The MQTT fake keeps the
 * contract of `MqttLink`: it queues QoS 1 publishes while offline (bounded) and
 * sends them in order on the next connect.
 */
import { DeviceApp, type DeviceAppOptions } from "../../src/app/device.js";
import { buildConfig, type StoredValue } from "../../src/runtime/config.js";
import type {
  CoapPort,
  CoapResult,
  ConfigStore,
  MqttLink,
  MqttLinkEvent,
  MqttLinkOptions,
  WifiEvent,
} from "../../src/app/ports.js";
import { encodeUtf8 } from "../../src/util/utf8.js";
import { FakeHost } from "./runtime-fakes.js";

export interface Sent {
  topic: string;
  text: string;
  qos: 0 | 1;
  retain: boolean;
}

export class FakeLink implements MqttLink {
  online = false;
  readonly sent: Sent[] = [];
  readonly queue: Sent[] = [];
  readonly subscriptions: string[] = [];
  ended = false;
  constructor(
    readonly options: MqttLinkOptions,
    readonly emit: (e: MqttLinkEvent) => void,
    readonly limit = 100,
  ) {}
  get queueDepth(): number {
    return this.queue.length;
  }
  publish(topic: string, payload: Uint8Array, o: { qos: 0 | 1; retain?: boolean }): boolean {
    const m = { topic, text: new TextDecoder().decode(payload), qos: o.qos, retain: o.retain === true };
    if (this.online) {
      this.sent.push(m);
      this.emit({ type: "sent" });
      return true;
    }
    if (o.qos === 0) return true; // QoS 0 offline: dropped by design
    if (this.queue.length >= this.limit) return false;
    this.queue.push(m);
    return true;
  }
  subscribe(filter: string): void {
    this.subscriptions.push(filter);
  }
  /** Times the device told the link that the network came back. */
  networkUps = 0;
  networkUp(): void {
    this.networkUps++;
  }
  end(): void {
    this.ended = true;
    this.online = false;
  }
  connect(sessionPresent = false): void {
    this.online = true;
    this.emit({ type: "connect", sessionPresent });
    for (const m of this.queue.splice(0)) {
      this.sent.push(m);
      this.emit({ type: "sent" });
    }
  }
  drop(reason = "reset"): void {
    this.online = false;
    this.emit({ type: "offline", reason });
  }
  deliver(topic: string, payload: string | Uint8Array, responseTopic?: string): void {
    this.emit({ type: "message", topic, payload: typeof payload === "string" ? encodeUtf8(payload) : payload, responseTopic });
  }
  json(topic: string): unknown[] {
    return this.sent.filter((m) => m.topic === topic).map((m) => JSON.parse(m.text));
  }
}

export class FakeWifi {
  attempts: { ssid: string; password?: string }[] = [];
  onEvent: ((e: WifiEvent) => void) | undefined;
  closed = 0;
  rssi = -55;
  connect = (o: { ssid: string; password?: string; onEvent(e: WifiEvent): void }) => {
    this.attempts.push({ ssid: o.ssid, password: o.password });
    this.onEvent = o.onEvent;
    o.onEvent({ type: "connecting" });
    return { close: () => void this.closed++ };
  };
  info = () => ({ mac: "24:0a:c4:00:00:01", rssi: this.rssi });
  /** The platform's signal-only read (WifiPort.signal); unset: the program falls back to info(). */
  signal: (() => number | undefined) | undefined = undefined;
  up(address = "10.0.0.7"): void {
    this.onEvent?.({ type: "connected" });
    this.onEvent?.({ type: "got-ip", address });
  }
  down(reason: "wrong-password" | "no-ap" | "lost-link" = "lost-link"): void {
    this.onEvent?.({ type: "disconnected", reason });
  }
}

export class FakeCoap implements CoapPort {
  gets: string[] = [];
  observers = new Map<string, (r: CoapResult | { error: string }) => void>();
  cancelled: string[] = [];
  get(uri: string, cb: (r: CoapResult | { error: string }) => void): void {
    this.gets.push(uri);
    cb({ codeText: "2.05", payload: encodeUtf8(`value of ${uri}`) });
  }
  observe(uri: string, cb: (r: CoapResult | { error: string }) => void): { cancel(): void } {
    this.observers.set(uri, cb);
    return { cancel: () => void this.cancelled.push(uri) };
  }
  notify(uri: string, text: string, observe = 1): void {
    this.observers.get(uri)?.({ codeText: "2.05", payload: encodeUtf8(text), observe });
  }
}

export class MapStore implements ConfigStore {
  readonly values = new Map<string, StoredValue>();
  get(key: string) {
    return this.values.get(key);
  }
  set(key: string, value: StoredValue) {
    this.values.set(key, value);
  }
  delete(key: string) {
    this.values.delete(key);
  }
  record(): Record<string, StoredValue> {
    return Object.fromEntries(this.values);
  }
}

export interface Rig {
  host: FakeHost;
  wifi: FakeWifi;
  coap: FakeCoap;
  store: MapStore;
  links: FakeLink[];
  reboots: string[];
  app: DeviceApp;
  /** The current link (the latest one created). */
  link(): FakeLink;
}

/** A device with the given build-time values (and `store` as its preferences), started. */
export function startRig(
  buildTime: Record<string, unknown> = {},
  options: { store?: MapStore; extra?: Partial<DeviceAppOptions>; linkLimit?: number } = {},
): Rig {
  const host = new FakeHost(7);
  const wifi = new FakeWifi();
  const coap = new FakeCoap();
  const store = options.store ?? new MapStore();
  const links: FakeLink[] = [];
  const reboots: string[] = [];
  const { config, problems } = buildConfig(
    { ssid: "lab", password: "secret", broker: "mqtt://127.0.0.1:1883", telemetryMs: 1000, ...buildTime },
    store.record(),
    wifi.info().mac,
  );
  const app = new DeviceApp({
    host,
    config,
    problems: problems.map((p) => p.message),
    wifi,
    mqtt: (o, emit) => {
      const l = new FakeLink(o, emit, options.linkLimit);
      links.push(l);
      return l;
    },
    coap,
    store,
    system: { reboot: (r) => void reboots.push(r), freeMemory: () => 123_456 },
    sensor: { name: "temperature", read: (now) => 20 + (now % 10) / 10 },
    backoff: { baseMs: 1000, maxMs: 30_000, stableMs: 10_000 },
    ...options.extra,
  });
  app.start();
  return { host, wifi, coap, store, links, reboots, app, link: () => links[links.length - 1] };
}
