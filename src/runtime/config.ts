/**
 * The device configuration: one typed, frozen `Config` built once at boot.
 *
 * Theory of operation (DESIGN.md §6). Sources, in order of precedence:
 *   0. the trust record (src/ota/trust-store.ts): the OTA key set by a signed
 *      rotation and protected values set by signed messages (docs/security.md), over
 *   1. values stored with the platform preferences in domain "mote" (set at
 *      provisioning, or at run time by the MQTT `config` command for keys that
 *      are not protected), over
 *   2. build-time values from Moddable's `mc/config` (`mcconfig ssid=… password=…`),
 *      over the defaults in `CONFIG_KEYS` below.
 * This file is pure: the caller hands in both sources and the MAC address
 * (src/runtime/load-config.ts does that on the device). Each value goes through
 * `normalizeConfigValue`, the single validator also used by the `config`
 * command, so a value that was accepted once is accepted again at the next boot.
 * A bad build-time or stored value never stops the boot: it is reported as a
 * `ConfigError` in `problems` and the default applies (a device that cannot
 * boot cannot be repaired over the air).
 */
import { MoteError, nameError } from "../errors.js";
import { crc32 } from "../util/crc32.js";
import { derOf, PemError } from "../util/pem.js";
import { encodeUtf8 } from "../util/utf8.js";

export type ConfigErrorCode = "invalid-value" | "unknown-key" | "read-only";

/** Caller misuse of the configuration: a bad value or an unknown key. */
export class ConfigError extends MoteError<ConfigErrorCode> {
  static {
    nameError(this, "ConfigError");
  }
  readonly key: string;
  constructor(code: ConfigErrorCode, key: string, message: string) {
    super(code, `${key}: ${message}`);
    this.key = key;
  }
}

export interface Config {
  /** WiFi network name; undefined = no WiFi configured (the WiFi part reports "no-ssid"). */
  readonly ssid: string | undefined;
  readonly password: string | undefined;
  /**
   * Broker URL, `mqtt://[user:pass@]host[:port]` or `mqtts://…`, or a list of
   * them (failover, src/mqtt/reconnect.ts) kept comma-separated; undefined =
   * MQTT off. Credentials in a URL apply to that broker (over mqttUser/mqttPass).
   */
  readonly broker: string | undefined;
  readonly mqttUser: string | undefined;
  readonly mqttPass: string | undefined;
  /** MQTT client id; default `mote-<mac>` (12 lowercase hex digits). */
  readonly clientId: string;
  /** First topic level(s); default "mote". Topics are `<prefix>/<clientId>/...`. */
  readonly prefix: string;
  /** Telemetry period, ms. Default 60000, 100 .. 86400000. */
  readonly telemetryMs: number;
  /** MQTT keep alive, s. Default 60, 0 .. 65535 (MQTT 5 §3.1.2.10). */
  readonly keepAliveS: number;
  /** CoAP URIs to observe and forward (at most MAX_OBSERVE_URIS). */
  readonly coapObserve: readonly string[];
  /** OTA signing key, 65-byte uncompressed P-256 point, or undefined = OTA refused. */
  readonly otaKey: Uint8Array | undefined;
  /**
   * The CA certificate (DER) an `mqtts://` broker must chain to; undefined =
   * the platform's trust store. A trust anchor like `otaKey`: set at build
   * time or provisioning, never over the command channel (docs/security.md).
   */
  readonly mqttCa: Uint8Array | undefined;
}

export type ConfigKey = keyof Config;
export type StoredValue = string | number | boolean | Uint8Array;

/** Upper bound on observed CoAP URIs (each holds a socket slot and an observe relation). */
export const MAX_OBSERVE_URIS = 4;
/** Preferences domain of the device configuration (≤ 15 chars, like ESP32 NVS). */
export const CONFIG_DOMAIN = "mote";

interface KeyRule {
  /** Applied to a running device without a reboot. */
  readonly live: boolean;
  /** Not settable at run time (would change the device's identity under its own feet). */
  readonly readOnly?: boolean;
}

/** Every key, and whether a change applies live (others apply after a reboot). */
export const CONFIG_KEYS: Readonly<Record<ConfigKey, KeyRule>> = Object.freeze({
  ssid: { live: false },
  password: { live: false },
  broker: { live: false },
  mqttUser: { live: false },
  mqttPass: { live: false },
  clientId: { live: false },
  prefix: { live: false },
  telemetryMs: { live: true },
  keepAliveS: { live: false },
  coapObserve: { live: false },
  otaKey: { live: false },
  mqttCa: { live: false },
});

export function isConfigKey(key: string): key is ConfigKey {
  return Object.prototype.hasOwnProperty.call(CONFIG_KEYS, key);
}

/**
 * Validates one value and returns it in its `Config` form. `value` may come
 * from mc/config (any JSON), from preferences (string/number/boolean/bytes),
 * or from a `config` command (JSON). `undefined`/`null` mean "use the default".
 */
export function normalizeConfigValue(key: string, value: unknown): Config[ConfigKey] | undefined {
  if (!isConfigKey(key)) throw new ConfigError("unknown-key", key, "not a configuration key");
  if (value === undefined || value === null) return undefined;
  switch (key) {
    case "ssid":
      return text(key, value, 1, 32); // IEEE 802.11 SSID ≤ 32 octets
    case "password":
      return text(key, value, 0, 64); // WPA2 passphrase 8..63 or 64 hex; 0 = open network
    case "mqttUser":
    case "mqttPass":
      return text(key, value, 0, 128);
    case "broker":
      return brokerUrl(key, value);
    case "clientId": {
      const s = text(key, value, 1, 64);
      // MQTT 3.1.1 §3.1.3.1 allows any UTF-8, but the id is also a topic level here.
      if (/[+#/]/.test(s)) throw new ConfigError("invalid-value", key, "must not contain '+', '#' or '/'");
      return s;
    }
    case "prefix": {
      const s = text(key, value, 1, 64);
      if (/[+#]/.test(s) || s.startsWith("/") || s.endsWith("/") || s.includes("//") || s.startsWith("$"))
        throw new ConfigError("invalid-value", key, "must be topic levels without wildcards, '$' or empty levels");
      return s;
    }
    case "telemetryMs":
      return integer(key, value, 100, 86_400_000);
    case "keepAliveS":
      return integer(key, value, 0, 65_535);
    case "coapObserve":
      return uriList(key, value);
    case "otaKey":
      return publicKey(key, value);
    case "mqttCa":
      return certificate(key, value);
  }
}

export interface BuiltConfig {
  readonly config: Config;
  /** Values that were refused (the default applied instead). */
  readonly problems: readonly ConfigError[];
}

/**
 * Builds the configuration from build-time values, stored values and the MAC.
 * Never throws for bad values (see `problems`); throws only if `mac` is unusable.
 */
export function buildConfig(
  buildTime: Readonly<Record<string, unknown>>,
  stored: Readonly<Record<string, StoredValue | undefined>>,
  mac: string,
  trusted: Readonly<Record<string, unknown>> = {},
): BuiltConfig {
  const problems: ConfigError[] = [];
  const values: Partial<Record<ConfigKey, unknown>> = {};
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    for (const source of [trusted, stored, buildTime]) {
      if (!Object.prototype.hasOwnProperty.call(source, key)) continue;
      try {
        const v = normalizeConfigValue(key, source[key]);
        if (v !== undefined) {
          values[key] = v;
          break;
        }
      } catch (e) {
        if (e instanceof ConfigError) problems.push(e);
        else throw e;
      }
    }
  }
  const config: Config = Object.freeze({
    ssid: values.ssid as string | undefined,
    password: values.password as string | undefined,
    broker: values.broker as string | undefined,
    mqttUser: values.mqttUser as string | undefined,
    mqttPass: values.mqttPass as string | undefined,
    clientId: (values.clientId as string | undefined) ?? defaultClientId(mac),
    prefix: (values.prefix as string | undefined) ?? "mote",
    telemetryMs: (values.telemetryMs as number | undefined) ?? 60_000,
    keepAliveS: (values.keepAliveS as number | undefined) ?? 60,
    coapObserve: Object.freeze((values.coapObserve as string[] | undefined) ?? []),
    otaKey: values.otaKey as Uint8Array | undefined,
    mqttCa: values.mqttCa as Uint8Array | undefined,
  });
  return { config, problems };
}

/** `mote-` and the MAC's 12 hex digits, lowercase: stable per board, distinct across a fleet. */
export function defaultClientId(mac: string): string {
  const hex = mac.toLowerCase().replace(/[^0-9a-f]/g, "");
  if (hex.length !== 12) throw new ConfigError("invalid-value", "mac", `cannot derive a client id from "${mac}"`);
  return `mote-${hex}`;
}

/**
 * The form a value is stored in with the platform preferences: strings,
 * numbers and bytes as such; the URI list joined by spaces (NVS has no arrays).
 */
export function toStoredValue(key: ConfigKey, value: Config[ConfigKey]): StoredValue | undefined {
  if (value === undefined) return undefined;
  if (key === "coapObserve") return (value as readonly string[]).join(" ");
  return value as StoredValue;
}

/**
 * The configuration as JSON for logs and status. Secrets are masked (the
 * credentials, the WiFi password) and the OTA key is shown by `keyId` only:
 * no secret value ever leaves the device this way (docs/security.md).
 */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    ssid: config.ssid,
    password: config.password === undefined ? undefined : "***",
    broker: config.broker === undefined ? undefined : maskBrokerCredentials(config.broker),
    mqttUser: config.mqttUser === undefined ? undefined : "***",
    mqttPass: config.mqttPass === undefined ? undefined : "***",
    clientId: config.clientId,
    prefix: config.prefix,
    telemetryMs: config.telemetryMs,
    keepAliveS: config.keepAliveS,
    coapObserve: config.coapObserve.slice(),
    otaKey: keyId(config.otaKey),
    mqttCa: config.mqttCa === undefined ? undefined : `der:${config.mqttCa.length}B`,
  };
}

/**
 * A short identifier of a public key for status and logs: CRC-32 of its 65
 * bytes as 8 hex digits. It tells which key is in force; it proves nothing.
 */
export function keyId(key: Uint8Array | undefined): string | undefined {
  if (key === undefined) return undefined;
  let hex = crc32(key).toString(16);
  while (hex.length < 8) hex = "0" + hex;
  return `p256:${hex}`;
}

export interface BrokerAddress {
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  /** From the URL's user info (RFC 3986 §3.2.1), percent-decoded. */
  readonly username?: string;
  readonly password?: string;
}

/** Brokers in one `broker` value, at most (the MQTT client's MAX_BROKERS). */
export const MAX_BROKERS = 8;

/** Splits a validated broker URL: `mqtt[s]://[user[:pass]@]host[:port][/]`. */
export function parseBrokerUrl(url: string): BrokerAddress {
  const m = /^(mqtts?):\/\/(?:([^\s:@/,]*)(?::([^\s@/,]*))?@)?(\[[0-9a-fA-F:.]+\]|[^\s/:?#@[\],]+)(?::(\d{1,5}))?\/?$/.exec(url);
  if (m === null) throw new ConfigError("invalid-value", "broker", "expected mqtt://[user:pass@]host[:port] or mqtts://…");
  const tls = m[1] === "mqtts";
  const port = m[5] === undefined ? (tls ? 8883 : 1883) : Number(m[5]);
  if (port < 1 || port > 65535) throw new ConfigError("invalid-value", "broker", "port out of range");
  const host = m[4].startsWith("[") ? m[4].slice(1, -1) : m[4];
  const address: { tls: boolean; host: string; port: number; username?: string; password?: string } = { tls, host, port };
  if (m[2]) address.username = userInfo(m[2]);
  if (m[3] !== undefined) address.password = userInfo(m[3]);
  return address;
}

/** The brokers of a validated `broker` value (one URL or a comma-separated list), in order. */
export function parseBrokerList(value: string): BrokerAddress[] {
  return value.split(",").map((u) => parseBrokerUrl(u.trim()));
}

/** A broker value for logs and status: credentials in each URL shown as `***`. */
export function maskBrokerCredentials(value: string): string {
  return value.replace(/(mqtts?:\/\/)[^@,/]*@/g, "$1***@");
}

/** RFC 3986 §2.1 percent-decoding of user info; a bad escape is an invalid value. */
function userInfo(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ConfigError("invalid-value", "broker", "bad %-escape in the credentials");
  }
}

function text(key: string, value: unknown, min: number, max: number): string {
  if (typeof value !== "string") throw new ConfigError("invalid-value", key, "expected a string");
  if (value.length < min || value.length > max)
    throw new ConfigError("invalid-value", key, `length must be ${min}..${max}`);
  return value;
}

function integer(key: string, value: unknown, min: number, max: number): number {
  const n = typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max)
    throw new ConfigError("invalid-value", key, `expected an integer ${min}..${max}`);
  return n;
}

/**
 * One broker URL, or a list (a JSON array, or one string with the URLs
 * separated by commas: the mcconfig line), kept as one comma-separated string
 * (preferences hold no arrays). A list is all mqtts or all mqtt: a plain entry
 * in a TLS list would be a downgrade waiting for the TLS brokers to fail.
 */
function brokerUrl(key: string, value: unknown): string {
  let list: string[];
  if (Array.isArray(value)) {
    if (value.length < 1) throw new ConfigError("invalid-value", key, "an empty broker list");
    list = value.map((u) => text(key, u, 1, 256).trim());
  } else list = text(key, value, 1, 1024).split(",").map((u) => u.trim());
  if (list.length > MAX_BROKERS) throw new ConfigError("invalid-value", key, `at most ${MAX_BROKERS} brokers`);
  const addresses = list.map(parseBrokerUrl);
  if (addresses.some((a) => a.tls) && addresses.some((a) => !a.tls))
    throw new ConfigError("invalid-value", key, "a broker list is all mqtts:// or all mqtt://");
  const joined = list.join(",");
  if (joined.length > 1024) throw new ConfigError("invalid-value", key, "broker list longer than 1024 characters");
  return joined;
}

function uriList(key: string, value: unknown): string[] {
  let list: unknown[];
  if (typeof value === "string") list = value.split(/[\s,]+/).filter((s) => s.length > 0);
  else if (Array.isArray(value)) list = value;
  else throw new ConfigError("invalid-value", key, "expected a list of coap:// URIs");
  if (list.length > MAX_OBSERVE_URIS)
    throw new ConfigError("invalid-value", key, `at most ${MAX_OBSERVE_URIS} URIs`);
  const out: string[] = [];
  for (const u of list) {
    // RFC 7252 §6.1: coap-URI = "coap:" "//" host [ ":" port ] path-abempty [ "?" query ].
    // No ',' or white space inside one: they separate the entries of the stored
    // string, and a value accepted once must read back the same at the next boot.
    if (typeof u !== "string" || u.length > 256 || !/^coaps?:\/\/[^\s,/?#]+(\/[^\s,#]*)?$/.test(u))
      throw new ConfigError("invalid-value", key, `not a coap:// URI: ${String(u).slice(0, 40)}`);
    out.push(u);
  }
  return out;
}

function publicKey(key: string, value: unknown): Uint8Array {
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) bytes = value.slice();
  else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value.slice(0));
  else if (typeof value === "string" && /^([0-9a-fA-F]{2})+$/.test(value)) bytes = fromHex(value);
  else throw new ConfigError("invalid-value", key, "expected hex or bytes");
  // SEC 1 §2.3.3: uncompressed point = 0x04 || X || Y, 32 bytes each for P-256.
  if (bytes.length !== 65 || bytes[0] !== 0x04)
    throw new ConfigError("invalid-value", key, "expected a 65-byte uncompressed P-256 public key");
  return bytes;
}

/** A CA certificate as PEM text or bytes, or DER bytes (RFC 7468 §5.1), kept as DER (Moddable's x509 reads DER only). */
function certificate(key: string, value: unknown): Uint8Array {
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) bytes = value.slice();
  else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value.slice(0));
  else if (typeof value === "string" && value.length <= 8192) bytes = encodeUtf8(value);
  else throw new ConfigError("invalid-value", key, "expected a PEM certificate or DER bytes");
  try {
    const der = derOf(bytes, ["CERTIFICATE"], key);
    if (der.length > 3000) throw new ConfigError("invalid-value", key, "certificate larger than 3000 bytes");
    return der === bytes ? der : der.slice();
  } catch (e) {
    if (e instanceof PemError) throw new ConfigError("invalid-value", key, e.message);
    throw e;
  }
}

function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  return s;
}
