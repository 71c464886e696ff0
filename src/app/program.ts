/**
 * The default device program, bound to the platform: configuration from
 * mc/config + preferences, WiFi from src/platform/wifi.ts, MQTT from src/mqtt,
 * the runtime's supervisor and clock. CoAP (`coap`) and OTA (`otaFactory`)
 * are parts the caller passes: `start()` (src/app/start.ts, what `main.ts`
 * and the board's main run) passes both; an application that wants the same
 * loop with its own sensor calls `startDevice({ sensor, coap: platformCoap })`
 * from its own main, and leaves out what it does not use, whose code then
 * stays out of its bundle.
 */
import { DeviceApp, type DeviceAppOptions } from "./device.js";
import { loadConfig, preferenceStore } from "../runtime/load-config.js";
import { platformHost } from "../runtime/platform-host.js";
import type { BackoffOptions } from "../runtime/backoff.js";
import { connectWifi, freeMemory, wifiInfo, wifiRssi } from "../platform/wifi.js";
import { xsHeap } from "../platform/memory.js";
import { mqttConnector, type MqttAdapterOptions } from "./adapters/mqtt.js";
import type { CoapPort, OtaPort, SensorSource } from "./ports.js";
import { buildTimeValues } from "../platform/config.js";
import { setWallClock } from "../platform/clock.js";
import { querySntp } from "../net/sntp-query.js";
import { deletePreference, getPreference, setPreference } from "../platform/preferences.js";
import type { Config } from "../runtime/config.js";
import { TrustStore } from "../ota/trust-store.js";
import { createSha256 } from "../platform/digest.js";
import { verifyP256 } from "../platform/ecdsa.js";
import type { OtaCrypto } from "../ota/descriptor.js";

export interface DeviceOptions {
  /** The reading published with each telemetry record. Default: `demoSensor`. */
  sensor?: SensorSource;
  /** The OTA agent for `cmd/ota` (none: the command is refused with "ota-unavailable"). */
  ota?: OtaPort;
  /**
   * Makes the OTA agent from the configuration (src/app/ota.ts `platformOta`:
   * mote's agent when `otaKey` is set, plus the boot health check). Used when `ota` is not given.
   */
  otaFactory?: OtaFactory;
  /**
   * Makes the CoAP port of the `coapObserve` relations and `cmd/coap`
   * (src/app/adapters/coap.ts `platformCoap`). None: configured observations
   * are not started (a problem in `status().problems`) and `cmd/coap` is refused.
   */
  coap?: () => CoapPort & { close(): void };
  /** Board id and running version the OTA agent checks descriptors against. Default: mc/config `board`, `version`. */
  board?: string;
  version?: string;
  /**
   * How to restart. Default: record the request in `status().reboot` — the
   * simulator restarts the engine when it sees it; a board build passes its
   * restart function here.
   */
  reboot?(reason: string): void;
  /** Reconnect backoff of the parts. */
  backoff?: Partial<BackoffOptions>;
  /**
   * MQTT link options. Default: the session kept in the preferences (domain
   * "mote-mqtt", adapters/mqtt.ts); `session: false` keeps it in RAM only
   * (fewer flash writes, but a power cut loses what waits).
   */
  mqtt?: MqttAdapterOptions;
}

/** Preference domain and key of the boot counter (one write per boot). */
export const BOOT_DOMAIN = "mote-app";
const BOOT_KEY = "boot";

const platformPrefs = Object.freeze({ getPreference, setPreference, deletePreference });
const platformCrypto: OtaCrypto = Object.freeze({ createSha256, verifyP256 });

/** The trust record's values as a configuration source (over stored and build-time values). */
function trustedValues(trust: TrustStore): Record<string, unknown> {
  const r = trust.record;
  return r.otaKey === undefined ? { ...r.config } : { ...r.config, otaKey: r.otaKey };
}

/**
 * Counts this boot: the stored number + 1 (1 after 2^31 - 1), written once.
 * A preference store that fails (NVS full) gives no number, never a failed boot.
 */
export function countBoot(prefs: Pick<typeof platformPrefs, "getPreference" | "setPreference"> = platformPrefs): number | undefined {
  try {
    const last = prefs.getPreference(BOOT_DOMAIN, BOOT_KEY);
    const boot = typeof last === "number" && last >= 1 && last < 0x7fff_ffff ? last + 1 : 1;
    prefs.setPreference(BOOT_DOMAIN, BOOT_KEY, boot);
    return boot;
  } catch (e) {
    platformHost.log("error", `app: boot counter unavailable (${e instanceof Error ? e.message : String(e)})`);
    return undefined;
  }
}

/** A demo reading (a slow sine around 21 °C): replace with a real sensor. */
export const demoSensor: SensorSource = Object.freeze({
  name: "demo",
  read: (now: number) => Math.round((21 + 2 * Math.sin(now / 60_000)) * 100) / 100,
});

export type OtaFactory = (
  config: Config,
  build: { board: string; version: string },
) => { port: OtaPort; onLink?(link: "wifi" | "mqtt", up: boolean): void } | undefined;

/** Version of the default program when the build does not set mc/config `version`. */
export const PROGRAM_VERSION = "0.1.0";

/**
 * The time part's source: mc/config `sntp` ("host" or "host:port"; examples/manifest_net.json
 * sets pool.ntp.org, `mcconfig sntp=...` another, `sntp=` none — the desktop fragment sets none).
 */
function timeFrom(server: unknown): DeviceAppOptions["time"] {
  if (typeof server !== "string" || server.length === 0) return undefined;
  return { server, source: { query: (callback) => querySntp(server, callback) }, setClock: setWallClock };
}

export function startDevice(options: DeviceOptions = {}): DeviceApp {
  // The trust record first (two slots, docs/security.md): it holds the rotated
  // OTA key and the protected values set by signed messages.
  const trust = new TrustStore(platformPrefs);
  const loadedTrust = trust.load();
  for (const p of loadedTrust.problems) platformHost.log("warn", `app: ${p}`);
  const { config, problems } = loadConfig(trustedValues(trust));
  const build = buildTimeValues(["board", "version", "sntp"]);
  const board = options.board ?? (typeof build.board === "string" ? build.board : "esp32");
  const version = options.version ?? (typeof build.version === "string" ? build.version : PROGRAM_VERSION);
  let ota = options.ota;
  let onLink: ((link: "wifi" | "mqtt", up: boolean) => void) | undefined;
  if (ota === undefined && options.otaFactory !== undefined) {
    try {
      const made = options.otaFactory(config, { board, version });
      ota = made?.port;
      onLink = made?.onLink;
    } catch (e) {
      platformHost.log("error", `app: OTA unavailable (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  const coap = options.coap?.();
  const refused = problems.map((p) => p.message);
  if (coap === undefined && config.coapObserve.length > 0) refused.push("coapObserve: this build has no CoAP client");
  const app = new DeviceApp({
    host: platformHost,
    config,
    problems: refused,
    wifi: { connect: connectWifi, info: wifiInfo, signal: wifiRssi },
    mqtt: mqttConnector({ ...options.mqtt, session: options.mqtt?.session ?? { prefs: platformPrefs } }),
    coap,
    ota,
    onLink,
    store: preferenceStore,
    trust,
    crypto: platformCrypto,
    system: {
      reboot: (reason) => {
        coap?.close();
        options.reboot?.(reason);
      },
      freeMemory,
      xsHeap,
    },
    sensor: options.sensor ?? demoSensor,
    version,
    boot: countBoot(),
    backoff: options.backoff,
    time: timeFrom(build.sntp),
  });
  app.start();
  return app;
}
