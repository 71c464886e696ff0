/**
 * Boot-time configuration on the device: mc/config (src/platform/config.ts)
 * overlaid by the preferences of domain "mote" (src/platform/preferences.ts),
 * client id from the WiFi MAC. Built once; nothing else reads either source.
 */
import { buildTimeValues } from "../platform/config.js";
import { deletePreference, getPreference, setPreference } from "../platform/preferences.js";
import { wifiInfo } from "../platform/wifi.js";
import { buildConfig, CONFIG_DOMAIN, CONFIG_KEYS, ConfigError, type BuiltConfig, type StoredValue } from "./config.js";

/** Reads both sources and builds the `Config`; never throws for a bad value (see `problems`). */
export function loadConfig(): BuiltConfig {
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
  let mac = "00:00:00:00:00:00";
  try {
    mac = wifiInfo().mac;
  } catch {
    // no radio (or no MAC yet): the all-zero id still boots; set clientId to tell boards apart
  }
  const built = buildConfig(buildTimeValues(keys), stored, mac);
  return { config: built.config, problems: [...unreadable, ...built.problems] };
}

/** The configuration store of the `config` command: preferences, domain "mote". */
export const preferenceStore = Object.freeze({
  get: (key: string): StoredValue | undefined => getPreference(CONFIG_DOMAIN, key),
  set: (key: string, value: StoredValue): void => setPreference(CONFIG_DOMAIN, key, value),
  delete: (key: string): void => deletePreference(CONFIG_DOMAIN, key),
});
