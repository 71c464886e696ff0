/**
 * Preferences in memory with NVS's limits (names <= 15 characters, values <= 4000
 * bytes) that count the writes: each is NVS entries, flash wear, on the chip.
 */
import type { PreferenceApi } from "../../src/mqtt/store.js";

export class FakePreferences implements PreferenceApi {
  values = new Map<string, string | number | boolean | Uint8Array>();
  writes = 0;
  getPreference(d: string, k: string) {
    const v = this.values.get(d + "/" + k);
    return v instanceof Uint8Array ? v.slice() : v;
  }
  setPreference(d: string, k: string, v: string | number | boolean | Uint8Array) {
    if (k.length > 15 || d.length > 15) throw new Error("NVS name too long");
    if (v instanceof Uint8Array && v.length > 4000) throw new Error("value too large");
    this.writes++;
    this.values.set(d + "/" + k, v instanceof Uint8Array ? v.slice() : v);
  }
  deletePreference(d: string, k: string) {
    this.values.delete(d + "/" + k);
  }
}
