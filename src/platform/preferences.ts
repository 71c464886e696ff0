/**
 * Key/value store over Moddable's `preference` module (ESP32: NVS). Domain
 * and key are at most 15 characters (NVS_KEY_NAME_MAX_SIZE - 1); values are
 * strings, 32-bit integers, booleans or bytes (ArrayBuffer on the host side):
 * Moddable's ESP32 port stores numbers with nvs_set_i32 and refuses
 * fractions ("float unsupported"), so the wrapper refuses them everywhere. A
 * value is at most MAX_PREFERENCE_BYTES (persisted values bigger than this
 * do not belong in NVS). Note: Moddable's ESP32 `Preference.keys()` returns
 * an empty list on some ESP-IDF versions; do not rely on it for migrations.
 */
import Preference from "preference";
import { MoteError } from "../errors.js";
import { utf8Length } from "../util/utf8.js";

export type PreferenceValue = string | number | boolean | Uint8Array;

export const MAX_NAME_LENGTH = 15;
export const MAX_PREFERENCE_BYTES = 4000;

function checkName(what: string, name: unknown): void {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_LENGTH)
    throw new MoteError("invalid-argument", `${what} must be a string of 1..${MAX_NAME_LENGTH} characters`);
}

export function getPreference(domain: string, key: string): PreferenceValue | undefined {
  checkName("domain", domain);
  checkName("key", key);
  const value = Preference.get(domain, key);
  if (value === undefined || value === null) return undefined;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) {
    const v = value as ArrayBufferView;
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
  }
  return value as string | number | boolean;
}

export function setPreference(domain: string, key: string, value: PreferenceValue): void {
  checkName("domain", domain);
  checkName("key", key);
  let stored: string | number | boolean | ArrayBuffer;
  if (value instanceof Uint8Array) {
    if (value.byteLength > MAX_PREFERENCE_BYTES) throw new MoteError("invalid-argument", "value too large");
    // a view of a whole buffer goes as it is (the store's one-chunk record); set() copies it into NVS and keeps nothing
    stored = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? (value.buffer as ArrayBuffer) : value.slice().buffer;
  } else if (typeof value === "string") {
    if (utf8Length(value) > MAX_PREFERENCE_BYTES) throw new MoteError("invalid-argument", "value too large");
    stored = value;
  } else if (typeof value === "number") {
    if (!Number.isInteger(value) || value < -0x8000_0000 || value > 0x7fff_ffff)
      throw new MoteError("invalid-argument", "numbers must be 32-bit integers");
    stored = value;
  } else if (typeof value === "boolean") stored = value;
  else throw new MoteError("invalid-argument", "value must be a string, number, boolean or Uint8Array");
  Preference.set(domain, key, stored);
}

export function deletePreference(domain: string, key: string): void {
  checkName("domain", domain);
  checkName("key", key);
  Preference.delete(domain, key);
}

export function preferenceKeys(domain: string): string[] {
  checkName("domain", domain);
  return [...Preference.keys(domain)];
}
