/**
 * Node twin of Moddable's `preference` module: one JSON file per domain in
 * the simulated board's state directory (hardware.ts), rewritten atomically
 * (temp file + rename) on every change so a crash never leaves half a file.
 * Values: string, number, boolean, ArrayBuffer (kept as base64).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stateDir } from "./hardware.js";

type Stored = string | number | boolean | { bytes: string };
type Value = string | number | boolean | ArrayBuffer;

/**
 * Moddable's `preference` API over JSON files in the folder `dir()` names
 * (one file per domain). The default export keeps them in the simulated
 * board's state directory; the simulator makes one store per device.
 */
export function createPreferenceStore(dir: () => string) {
  const file = (domain: string): string => {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(domain) || domain.startsWith(".")) throw new Error("invalid domain");
    const folder = dir();
    mkdirSync(folder, { recursive: true });
    return join(folder, `${domain}.json`);
  };
  const load = (domain: string): Record<string, Stored> => {
    const path = file(domain);
    if (!existsSync(path)) return {};
    try {
      return JSON.parse(readFileSync(path, "utf8")) as Record<string, Stored>;
    } catch {
      return {};
    }
  };
  const save = (domain: string, values: Record<string, Stored>): void => {
    const path = file(domain);
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(values));
    renameSync(temp, path);
  };
  const checkKey = (key: string): void => {
    if (typeof key !== "string" || key.length === 0 || key.length > 15) throw new Error("invalid key");
  };
  return {
    get(domain: string, key: string): Value | undefined {
      checkKey(key);
      const v = load(domain)[key];
      if (v === undefined) return undefined;
      if (typeof v === "object") return new Uint8Array(Buffer.from(v.bytes, "base64")).buffer;
      return v;
    },
    set(domain: string, key: string, value: Value | ArrayBufferView): void {
      checkKey(key);
      let stored: Stored;
      if (value instanceof ArrayBuffer) stored = { bytes: Buffer.from(new Uint8Array(value)).toString("base64") };
      else if (ArrayBuffer.isView(value))
        stored = { bytes: Buffer.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)).toString("base64") };
      else if (typeof value === "number") {
        // As the ESP32 port: nvs_set_i32, fractions refused.
        if (value !== Math.trunc(value)) throw new Error("float unsupported");
        stored = value | 0;
      } else if (typeof value === "string" || typeof value === "boolean") stored = value;
      else throw new Error("invalid value");
      const values = load(domain);
      values[key] = stored;
      save(domain, values);
    },
    delete(domain: string, key: string): void {
      checkKey(key);
      const values = load(domain);
      if (!(key in values)) return;
      delete values[key];
      save(domain, values);
    },
    keys(domain: string): string[] {
      return Object.keys(load(domain));
    },
  };
}

const Preference = createPreferenceStore(() => join(stateDir(), "preferences"));

export default Preference;
