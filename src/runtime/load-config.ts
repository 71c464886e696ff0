/**
 * Boot-time configuration on the device: mc/config (src/platform/config.ts)
 * overlaid by the preferences of domain "mote" (src/platform/preferences.ts),
 * client id from the WiFi MAC. Built once; nothing else reads either source.
 */
import { buildTimeValues } from "../platform/config.js";
import { deletePreference, getPreference, setPreference } from "../platform/preferences.js";
import { randomBytes } from "../platform/random.js";
import { wifiInfo } from "../platform/wifi.js";
import { buildConfig, CONFIG_DOMAIN, CONFIG_KEYS, ConfigError, type BuiltConfig, type StoredValue } from "./config.js";

/**
 * Reads both sources and builds the `Config`; never throws for a bad value (see
 * `problems`). `trusted` (the trust record's values: the rotated OTA key and
 * protected values set by signed messages, src/ota/trust-store.ts) wins over both.
 */
export function loadConfig(trusted: Readonly<Record<string, unknown>> = {}): BuiltConfig {
  const keys = Object.keys(CONFIG_KEYS);
  const stored: Record<string, StoredValue> = {};
  const unreadable: ConfigError[] = [];
  for (const key of keys) {
    try {
      const v = getPreference(CONFIG_DOMAIN, key);
      if (v !== undefined) stored[key] = v;
    } catch (e) {
      unreadable.push(new ConfigError("invalid-value", key, `stored value unreadable (${e instanceof Error ? e.message : String(e)})`));
    }
  }
  let mac = "";
  try {
    mac = wifiInfo().mac;
  } catch {
    // no radio (or no MAC yet): a stored random id below
  }
  if (!isMac(mac)) mac = storedDeviceId();
  const built = buildConfig(buildTimeValues(keys), stored, mac, trusted);
  return { config: built.config, problems: [...unreadable, ...built.problems] };
}

function isMac(mac: string): boolean {
  return mac.toLowerCase().replace(/[^0-9a-f]/g, "").length === 12;
}

const DEVICE_ID_KEY = "devid";

/**
 * Where the platform gives no usable MAC (Moddable's desktop runtime answers
 * ""), a random 48-bit id made at the first boot and kept in preferences, so
 * the client id — and with it a persistent MQTT session — stays the same
 * across reboots. If the store fails too, this boot's random id is used.
 */
function storedDeviceId(): string {
  try {
    const saved = getPreference(CONFIG_DOMAIN, DEVICE_ID_KEY);
    if (typeof saved === "string" && isMac(saved)) return saved;
  } catch {
    // unreadable: make a new one
  }
  let id = "";
  for (const b of randomBytes(6)) id += (b < 16 ? "0" : "") + b.toString(16);
  try {
    setPreference(CONFIG_DOMAIN, DEVICE_ID_KEY, id);
  } catch {
    // not kept: this boot still has an id
  }
  return id;
}

/** The configuration store of the `config` command: preferences, domain "mote". */
export const preferenceStore = Object.freeze({
  get: (key: string): StoredValue | undefined => getPreference(CONFIG_DOMAIN, key),
  set: (key: string, value: StoredValue): void => setPreference(CONFIG_DOMAIN, key, value),
  delete: (key: string): void => deletePreference(CONFIG_DOMAIN, key),
});
