/**
 * The trust record: the OTA key in force after a rotation, the counter of
 * the last signed message accepted, and the configuration values set by
 * signed messages — kept in the preferences so that a power cut at any
 * moment of a save leaves either the old record or the new one, never none.
 *
 * Theory of operation. Two slots, preference keys "ta" and "tb" of domain
 * "mote-trust". A record is
 *   [0]      format 1
 *   [1..4]   CRC-32 of bytes 5.. (src/util/crc32.ts)
 *   [5..8]   counter, u32 big-endian
 *   [9..]    UTF-8 JSON {"k": "<hex of the 65-byte key>"?, "c": {key: value}}
 * A save writes the new record into the slot that does NOT hold the record in
 * force, then reads it back. Loading reads both and takes the valid one with
 * the highest counter. One preference write is the only step, so a cut before
 * or during it leaves the old record in the other slot (a torn new record
 * fails its CRC), and a cut after it leaves the new one: the key and the
 * counter live in one record, so they are always consistent. NVS writes a
 * key atomically too (ESP-IDF "Non-volatile storage library", power-loss
 * behaviour); the CRC also covers stores that do not.
 *
 * Pure apart from the preference API passed in.
 */
import { crc32 } from "../util/crc32.js";
import { decodeUtf8, encodeUtf8 } from "../util/utf8.js";
import { decodeHex, encodeHex } from "./encoding.js";
import { isValidP256PublicKey } from "./p256.js";
import { TrustError } from "./signed.js";

export interface TrustRecord {
  /** Highest counter accepted (0 = no signed message yet). */
  readonly counter: number;
  /** The OTA key set by the last rotation; undefined = the configured one (build time / provisioning). */
  readonly otaKey: Uint8Array | undefined;
  /** Protected configuration values set by signed messages (they override stored and build-time ones). */
  readonly config: Readonly<Record<string, string>>;
}

/** What the store needs of the platform preferences (src/platform/preferences.ts). */
export interface TrustPrefs {
  getPreference(domain: string, key: string): string | number | boolean | Uint8Array | undefined;
  setPreference(domain: string, key: string, value: string | number | boolean | Uint8Array): void;
}

export const TRUST_DOMAIN = "mote-trust";
export const TRUST_SLOTS = Object.freeze(["ta", "tb"] as const);
export type TrustSlot = (typeof TRUST_SLOTS)[number];
const FORMAT = 1;
const HEADER = 9;
/** Upper bound of an encoded record (the NVS budget: well under one value's 4000 bytes). */
export const MAX_TRUST_RECORD_BYTES = 2048;

export const EMPTY_TRUST: TrustRecord = Object.freeze({ counter: 0, otaKey: undefined, config: Object.freeze({}) });

export function encodeTrustRecord(r: TrustRecord): Uint8Array {
  const body: Record<string, unknown> = {};
  if (r.otaKey !== undefined) body.k = encodeHex(r.otaKey);
  // A copy: XS's JSON.stringify marks the objects it visits, and the empty
  // record's config is preloaded (read-only) on Moddable ("read only value").
  body.c = { ...r.config };
  const json = encodeUtf8(JSON.stringify(body));
  const out = new Uint8Array(HEADER + json.length);
  const view = new DataView(out.buffer);
  out[0] = FORMAT;
  view.setUint32(5, r.counter >>> 0);
  out.set(json, HEADER);
  view.setUint32(1, crc32(out, 5));
  return out;
}

/** The record in `bytes`, or undefined if it is torn, corrupted or of another format. */
export function decodeTrustRecord(bytes: unknown): TrustRecord | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length < HEADER + 2 || bytes.length > MAX_TRUST_RECORD_BYTES) return undefined;
  if (bytes[0] !== FORMAT) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(1) !== crc32(bytes, 5)) return undefined;
  const text = decodeUtf8(bytes, HEADER);
  if (typeof text !== "string") return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  let otaKey: Uint8Array | undefined;
  if (b.k !== undefined) {
    otaKey = typeof b.k === "string" ? decodeHex(b.k) : undefined;
    if (otaKey === undefined || otaKey.length !== 65 || !isValidP256PublicKey(otaKey)) return undefined;
  }
  if (typeof b.c !== "object" || b.c === null || Array.isArray(b.c)) return undefined;
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.c as Record<string, unknown>)) {
    if (typeof v !== "string") return undefined;
    config[k] = v;
  }
  return Object.freeze({ counter: view.getUint32(5), otaKey, config: Object.freeze(config) });
}

export interface LoadedTrust {
  readonly record: TrustRecord;
  /** Slot holding `record`; undefined when neither slot holds a valid one. */
  readonly slot: TrustSlot | undefined;
  /** Slots that hold something unreadable (a torn save shows here once, until overwritten). */
  readonly problems: readonly string[];
}

/** Two-slot store of the trust record (see the file comment). */
export class TrustStore {
  readonly #prefs: TrustPrefs;
  readonly #domain: string;
  #slot: TrustSlot | undefined;
  #record: TrustRecord = EMPTY_TRUST;

  constructor(prefs: TrustPrefs, domain = TRUST_DOMAIN) {
    this.#prefs = prefs;
    this.#domain = domain;
  }

  get record(): TrustRecord {
    return this.#record;
  }

  /** Reads both slots; never throws (an unreadable store is an empty record plus a problem). */
  load(): LoadedTrust {
    const problems: string[] = [];
    let best: TrustRecord | undefined;
    let slot: TrustSlot | undefined;
    for (const s of TRUST_SLOTS) {
      let raw: unknown;
      try {
        raw = this.#prefs.getPreference(this.#domain, s);
      } catch (e) {
        problems.push(`trust slot ${s} unreadable (${e instanceof Error ? e.message : String(e)})`);
        continue;
      }
      if (raw === undefined) continue;
      const r = decodeTrustRecord(raw);
      if (r === undefined) {
        problems.push(`trust slot ${s} holds no valid record (torn save?)`);
        continue;
      }
      if (best === undefined || r.counter > best.counter) {
        best = r;
        slot = s;
      }
    }
    this.#record = best ?? EMPTY_TRUST;
    this.#slot = slot;
    return { record: this.#record, slot, problems };
  }

  /**
   * Saves `record` (its counter above the one in force) into the other slot
   * and reads it back. Throws TrustError("store") when it did not stick: the
   * record in force is unchanged then.
   */
  save(record: TrustRecord): void {
    if (record.counter <= this.#record.counter && this.#slot !== undefined)
      throw new TrustError("store", "counter must grow");
    const target: TrustSlot = this.#slot === "ta" ? "tb" : "ta";
    const bytes = encodeTrustRecord(record);
    if (bytes.length > MAX_TRUST_RECORD_BYTES) throw new TrustError("store", "record too large");
    let back: TrustRecord | undefined;
    try {
      this.#prefs.setPreference(this.#domain, target, bytes);
      back = decodeTrustRecord(this.#prefs.getPreference(this.#domain, target));
    } catch (e) {
      throw new TrustError("store", `save failed (${e instanceof Error ? e.message : String(e)})`);
    }
    if (back === undefined || back.counter !== record.counter) throw new TrustError("store", "record did not read back");
    this.#record = back;
    this.#slot = target;
  }
}
