/**
 * Persistent MQTT session store (for `clean: false` sessions): what a reboot
 * must not lose — outgoing QoS 1/2 messages not yet completed, incoming QoS 2
 * ids not yet released, queued QoS 1/2 messages — kept in a key/value
 * preference store (ESP32 NVS through src/platform/preferences.ts).
 *
 * Torn writes. A record is larger than one preference value, so it is split
 * into chunks, and a power cut can stop a save half way. Two slots, "a" and
 * "b", each hold one record; a save writes the slot not holding the newest
 * record, chunk by chunk, and only then flips the small pointer key. A
 * record carries a sequence number and a CRC-32 of its body; `load()` reads
 * both slots and takes the newest record whose checksum holds, so a torn
 * save leaves the previous record in force. (No pointer key is written: the
 * sequence numbers say which record is newest.)
 *
 * Flash wear. A save whose body is the newest record's (same length and
 * CRC-32) writes nothing: on the ESP32 every write is NVS entries that wear
 * the partition, and the client asks again after every change that cancels
 * out (a QoS 1 message sent and acknowledged; client.ts `saveDelayMs`).
 *
 * Bounds: a record is at most `maxBytes` (default 8192) in chunks of
 * `chunkBytes` (default 1024) — at most 2 * ceil(maxBytes / chunkBytes) + 1
 * keys. In-flight messages and incoming ids are written first, then as much
 * of the queue as fits; if the in-flight messages alone do not fit, `save`
 * throws MoteError("store-full") and the previous record stays.
 */
import { MoteError } from "../errors.js";
import { decodeUtf8, encodeUtf8 } from "../util/utf8.js";
import { clientPacketSize, decodeClientPacket, encodeClientPacket } from "./codec.js";
import type { PublishPacket } from "./packets.js";
import type { SessionSnapshot } from "./session.js";
import { crc32 } from "../util/crc32.js";

/** Where a session is kept. `load` returns undefined when nothing valid is stored. */
export interface SessionStore {
  load(): SessionSnapshot | undefined;
  save(snapshot: SessionSnapshot): void;
  clear(): void;
}

/** The part of src/platform/preferences.ts the store uses (injectable for tests). */
export interface PreferenceApi {
  getPreference(domain: string, key: string): string | number | boolean | Uint8Array | undefined;
  setPreference(domain: string, key: string, value: string | number | boolean | Uint8Array): void;
  deletePreference(domain: string, key: string): void;
}

export interface PreferenceStoreOptions {
  /** Largest record, bytes (default 8192). */
  maxBytes?: number;
  /** Bytes per preference value (default 1024). */
  chunkBytes?: number;
}

const MAGIC = 0x4d515331; // "MQS1"
const HEADER = 16; // magic, sequence, body length, CRC-32

/** Where the newest record is, and what its body is (to skip a save that changes nothing). */
interface Newest {
  slot: string;
  seq: number;
  length: number;
  crc: number;
}

export class PreferenceSessionStore implements SessionStore {
  readonly #prefs: PreferenceApi;
  readonly #domain: string;
  /** The preference domain the records live in. */
  get domain(): string {
    return this.#domain;
  }
  readonly #maxBytes: number;
  readonly #chunk: number;
  /** The newest valid record's slot, sequence and body (length, CRC-32): undefined = not known (read it), null = none. */
  #newest: Newest | null | undefined;

  constructor(prefs: PreferenceApi, domain: string, options: PreferenceStoreOptions = {}) {
    if (domain.length === 0 || domain.length > 15) throw new MoteError("invalid-option", "domain must be 1..15 characters (NVS)");
    this.#prefs = prefs;
    this.#domain = domain;
    this.#maxBytes = options.maxBytes ?? 8192;
    this.#chunk = options.chunkBytes ?? 1024;
    if (!(this.#maxBytes >= 64) || !(this.#chunk >= 32)) throw new MoteError("invalid-option", "maxBytes >= 64, chunkBytes >= 32");
  }

  load(): SessionSnapshot | undefined {
    const best = this.#newestSlot();
    return best ? decodeSnapshot(best.body) : undefined;
  }

  /** The newest valid record, read and checked; remembered for the next save. */
  #newestSlot(): (Newest & { body: Uint8Array }) | undefined {
    let best: (Newest & { body: Uint8Array }) | undefined;
    for (const slot of ["a", "b"]) {
      const r = this.#readSlot(slot);
      if (r && (best === undefined || seqNewer(r.seq, best.seq))) best = { slot, seq: r.seq, length: r.body.length, crc: r.crc, body: r.body };
    }
    this.#newest = best ? { slot: best.slot, seq: best.seq, length: best.length, crc: best.crc } : null;
    return best;
  }

  save(snapshot: SessionSnapshot): void {
    // The body is encoded in place, after the header: one buffer a save.
    const record = encodeSnapshot(snapshot, this.#maxBytes - HEADER, HEADER);
    const body = record.subarray(HEADER);
    const crc = crc32(body);
    // Which record is newest comes from the last load or save (one process owns the
    // domain), so a save reads nothing back: on NVS that is two reads and a CRC less.
    const newest = this.#newest !== undefined ? this.#newest : this.#newestSlot();
    if (newest && newest.length === body.length && newest.crc === crc) return; // unchanged: no flash write
    // write over the older (or invalid) slot; the newest valid record stays intact
    const slot = newest?.slot === "a" ? "b" : "a";
    const seq = newest ? (newest.seq + 1) >>> 0 : 1;
    this.#newest = undefined; // unknown until every chunk is written
    const dv = new DataView(record.buffer);
    dv.setUint32(0, MAGIC);
    dv.setUint32(4, seq);
    dv.setUint32(8, body.length);
    dv.setUint32(12, crc);
    // a record within one chunk (the common case: a message or two) goes as it is
    if (record.length <= this.#chunk) this.#prefs.setPreference(this.#domain, slot + "0", record);
    else for (let i = 0, k = 0; i < record.length; i += this.#chunk, k++) this.#prefs.setPreference(this.#domain, slot + k, record.subarray(i, i + this.#chunk));
    this.#newest = { slot, seq, length: body.length, crc };
  }

  clear(): void {
    // "p": the pointer key earlier versions wrote after each save
    const chunks = Math.ceil(this.#maxBytes / this.#chunk);
    for (const slot of ["a", "b"]) for (let k = 0; k < chunks; k++) this.#prefs.deletePreference(this.#domain, slot + k);
    this.#prefs.deletePreference(this.#domain, "p");
    this.#newest = null;
  }

  #readHeader(slot: string): { seq: number; length: number; crc: number } | undefined {
    const first = this.#prefs.getPreference(this.#domain, slot + "0");
    if (!(first instanceof Uint8Array) || first.length < HEADER) return undefined;
    const dv = new DataView(first.buffer, first.byteOffset, HEADER);
    if (dv.getUint32(0) !== MAGIC) return undefined;
    const length = dv.getUint32(8);
    if (length > this.#maxBytes - HEADER) return undefined;
    return { seq: dv.getUint32(4), length, crc: dv.getUint32(12) };
  }

  #readSlot(slot: string): { seq: number; crc: number; body: Uint8Array } | undefined {
    const h = this.#readHeader(slot);
    if (h === undefined) return undefined;
    const record = new Uint8Array(HEADER + h.length);
    let filled = 0;
    for (let k = 0; filled < record.length; k++) {
      const c = this.#prefs.getPreference(this.#domain, slot + k);
      if (!(c instanceof Uint8Array) || c.length === 0) return undefined;
      const take = Math.min(c.length, record.length - filled);
      record.set(c.subarray(0, take), filled);
      filled += take;
    }
    const body = record.subarray(HEADER);
    if (crc32(body) !== h.crc) return undefined; // torn or corrupted
    return { seq: h.seq, crc: h.crc, body };
  }
}

/** In-memory store (tests, or a device that only needs to survive reconnects). */
export class MemorySessionStore implements SessionStore {
  #snapshot: Uint8Array | undefined;
  load(): SessionSnapshot | undefined {
    return this.#snapshot ? decodeSnapshot(this.#snapshot) : undefined;
  }
  save(s: SessionSnapshot): void {
    this.#snapshot = encodeSnapshot(s, 1 << 20, 0);
  }
  clear(): void {
    this.#snapshot = undefined;
  }
}

function seqNewer(a: number, b: number): boolean {
  return ((a - b) | 0) > 0; // serial number arithmetic survives wraparound
}

// ---------------------------------------------------------------- record body
// clientId (u16 length + UTF-8) | incoming: u16 count, u16 ids |
// outgoing: u16 count, (u8 released, PUBLISH packet as MQTT 5 bytes)* |
// queued: u16 count, (PUBLISH packet)*

/** The body at `offset` of a new buffer (room before it for the caller's header). */
function encodeSnapshot(s: SessionSnapshot, limit: number, offset: number): Uint8Array {
  const id = encodeUtf8(s.clientId);
  let size = 2 + id.length + 2 + 2 * s.incoming.length + 2 + 2;
  for (const o of s.outgoing) size += 1 + clientPacketSize(o.packet, 5);
  if (size > limit) throw new MoteError("store-full", `in-flight session state ${size} bytes > ${limit}`);
  let queued = 0;
  for (const q of s.queued) {
    const n = clientPacketSize(withId(q), 5);
    if (size + n > limit) break;
    size += n;
    queued++;
  }
  const out = new Uint8Array(offset + size);
  const dv = new DataView(out.buffer);
  let o = offset;
  dv.setUint16(o, id.length);
  out.set(id, o + 2);
  o += 2 + id.length;
  dv.setUint16(o, s.incoming.length);
  o += 2;
  for (const n of s.incoming) {
    dv.setUint16(o, n);
    o += 2;
  }
  dv.setUint16(o, s.outgoing.length);
  o += 2;
  for (const f of s.outgoing) {
    out[o++] = f.released ? 1 : 0;
    o += encodeClientPacket(f.packet, 5, out, o).length;
  }
  dv.setUint16(o, queued);
  o += 2;
  for (let i = 0; i < queued; i++) o += encodeClientPacket(withId(s.queued[i]), 5, out, o).length;
  return out;
}

/** Queued messages have no packet id yet; a placeholder keeps the codec's rules. */
function withId(p: PublishPacket): PublishPacket {
  return p.qos > 0 && p.packetId === undefined ? { ...p, packetId: 0xffff } : p;
}

function decodeSnapshot(body: Uint8Array): SessionSnapshot | undefined {
  try {
    const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    let o = 0;
    const idLen = dv.getUint16(o);
    const clientId = decodeUtf8(body, o + 2, o + 2 + idLen);
    if (typeof clientId !== "string") return undefined;
    o += 2 + idLen;
    const incoming: number[] = [];
    for (let n = dv.getUint16((o += 2) - 2); n > 0; n--, o += 2) incoming.push(dv.getUint16(o));
    const outgoing: SessionSnapshot["outgoing"] = [];
    for (let n = dv.getUint16((o += 2) - 2); n > 0; n--) {
      const released = body[o++] === 1;
      const d = decodeClientPacket(body, 5, o);
      if (d === undefined || d.packet.type !== "publish") return undefined;
      outgoing.push({ packet: copyPublish(d.packet), released });
      o += d.used;
    }
    const queued: PublishPacket[] = [];
    for (let n = dv.getUint16((o += 2) - 2); n > 0; n--) {
      const d = decodeClientPacket(body, 5, o);
      if (d === undefined || d.packet.type !== "publish") return undefined;
      const p = copyPublish(d.packet);
      delete p.packetId;
      queued.push(p);
      o += d.used;
    }
    return { clientId, incoming, outgoing, queued };
  } catch {
    return undefined; // a record that passed its CRC but does not parse: treat as absent
  }
}

function copyPublish(p: PublishPacket): PublishPacket {
  return { ...p, payload: p.payload.slice() };
}

