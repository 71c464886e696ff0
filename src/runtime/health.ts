/**
 * The device's status record: what the simulator shows on its status line, what
 * `--json` prints, and what `--for` judges "healthy" by. Plain data, JSON-able,
 * rebuilt on request (no timers, nothing kept but counters).
 */
import type { PartHealth } from "./supervisor-core.js";
import type { TimeStatus } from "./time-sync.js";

export type WifiState = "off" | "connecting" | "up" | "down" | "no-ssid";
export type MqttState = "disabled" | "waiting-wifi" | "connecting" | "connected" | "offline" | "failed";

export interface Counters {
  msgsIn: number;
  msgsOut: number;
  /** QoS 1 publishes refused because the link's queue was full. */
  msgsDropped: number;
  telemetrySent: number;
  commands: number;
  commandErrors: number;
  coapNotifications: number;
  wifiDrops: number;
  mqttConnects: number;
}

/** The counters' names: their order in `zeroCounters()` and in a telemetry record (src/app/device.ts). */
export const COUNTER_NAMES: readonly (keyof Counters)[] = Object.freeze([
  "msgsIn",
  "msgsOut",
  "msgsDropped",
  "telemetrySent",
  "commands",
  "commandErrors",
  "coapNotifications",
  "wifiDrops",
  "mqttConnects",
]);

export function zeroCounters(): Counters {
  const counters = {} as Counters;
  for (const name of COUNTER_NAMES) counters[name] = 0;
  return counters;
}

export interface DeviceStatus {
  readonly id: string;
  readonly version: string | undefined;
  readonly uptimeMs: number;
  readonly wifi: { state: WifiState; reason?: string; ip?: string; rssi?: number };
  /** `broker`: the configured value (credentials masked); `node`: the broker of a list in use or being tried, host:port. */
  readonly mqtt: { state: MqttState; reason?: string; broker?: string; node?: string };
  readonly queueDepth: number;
  readonly counters: Counters;
  readonly parts: Record<string, PartHealth>;
  /** Config values refused at boot (defaults applied). */
  readonly problems: readonly string[];
  /** Wall-clock synchronisation (SNTP), when the program has a time source. */
  readonly time?: TimeStatus;
  /**
   * The command channel's security (docs/security.md): the OTA key in force (an
   * id, never the key), the counter of the last signed message accepted, the
   * tokens left for harmful commands, and refusals so far with the last one.
   */
  readonly security?: {
    readonly otaKey: string | undefined;
    readonly counter: number;
    readonly tokens: number;
    readonly refused: number;
    readonly lastRefusal: { readonly cmd: string; readonly code: string } | undefined;
  };
  /** Set once the program stopped itself to reboot (the simulator then restarts the engine). */
  readonly reboot: string | undefined;
  readonly healthy: boolean;
}

/** Healthy = the network is up and, when a broker is configured, MQTT is connected. */
export function isHealthy(wifi: WifiState, mqtt: MqttState): boolean {
  return wifi === "up" && (mqtt === "connected" || mqtt === "disabled");
}
