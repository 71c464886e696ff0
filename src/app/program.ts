/**
 * The default device program, bound to the platform: configuration from
 * mc/config + preferences, WiFi from src/platform/wifi.ts, MQTT from src/mqtt,
 * CoAP from src/coap, the runtime's supervisor and clock. `main.ts` starts it;
 * an application that wants the same loop with its own sensor (or OTA agent)
 * calls `startDevice({ sensor })` from its own main instead.
 */
import { DeviceApp } from "./device.js";
import { loadConfig, preferenceStore } from "../runtime/load-config.js";
import { platformHost } from "../runtime/platform-host.js";
import type { BackoffOptions } from "../runtime/backoff.js";
import { connectWifi, freeMemory, wifiInfo } from "../platform/wifi.js";
import { openUdp } from "../platform/udp.js";
import { resolveHost } from "../platform/dns.js";
import { mqttConnector, type MqttAdapterOptions } from "./adapters/mqtt.js";
import { coapPort } from "./adapters/coap.js";
import type { OtaPort, SensorSource } from "./ports.js";

export interface DeviceOptions {
  /** The reading published with each telemetry record. Default: `demoSensor`. */
  sensor?: SensorSource;
  /** The OTA agent for `cmd/ota` (none: the command is refused with "ota-unavailable"). */
  ota?: OtaPort;
  /**
   * How to restart. Default: record the request in `status().reboot` — the
   * simulator restarts the engine when it sees it; a board build passes its
   * restart function here.
   */
  reboot?(reason: string): void;
  /** Reconnect backoff of the parts. */
  backoff?: Partial<BackoffOptions>;
  mqtt?: MqttAdapterOptions;
}

/** A demo reading (a slow sine around 21 °C): replace with a real sensor. */
export const demoSensor: SensorSource = Object.freeze({
  name: "demo",
  read: (now: number) => Math.round((21 + 2 * Math.sin(now / 60_000)) * 100) / 100,
});

export function startDevice(options: DeviceOptions = {}): DeviceApp {
  const { config, problems } = loadConfig();
  const coap = coapPort({
    now: platformHost.now,
    random: platformHost.random,
    openUdp,
    resolveHost,
    createAlarm: platformHost.alarm,
  });
  const app = new DeviceApp({
    host: platformHost,
    config,
    problems: problems.map((p) => p.message),
    wifi: { connect: connectWifi, info: wifiInfo },
    mqtt: mqttConnector(options.mqtt),
    coap,
    ota: options.ota,
    store: preferenceStore,
    system: {
      reboot: (reason) => {
        coap.close();
        options.reboot?.(reason);
      },
      freeMemory,
    },
    sensor: options.sensor ?? demoSensor,
    backoff: options.backoff,
  });
  app.start();
  return app;
}
