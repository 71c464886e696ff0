/**
 * Persisted state read back from flash after a power cut: the MQTT session
 * record (src/mqtt/store.ts PreferenceSessionStore, two slots of chunks with
 * sequence number and CRC-32).
 *
 * Inputs: the preference values of a real saved record (from a random
 * session snapshot), then torn (chunks missing, truncated), corrupted (bytes
 * flipped, so the CRC fails), or corrupted *with the CRC fixed up* so the
 * body decoder itself meets bad bytes; values of the wrong type; random
 * bytes in every key.
 *
 * Properties: `load()` never throws; it returns undefined or a snapshot
 * whose messages are QoS 1/2 PUBLISH packets that re-encode; a snapshot
 * loaded from an intact record equals what was saved.
 */
import { encodePacket } from "../../src/mqtt/codec.js";
import type { PublishPacket, QoS } from "../../src/mqtt/packets.js";
import type { SessionSnapshot } from "../../src/mqtt/session.js";
import { PreferenceSessionStore, type PreferenceApi } from "../../src/mqtt/store.js";
import { crc32 } from "../../src/util/crc32.js";
import { assert, deepEqual, hex, showValue, type FuzzTarget, type Rng } from "../engine.js";
import { mutateBytes } from "../mutators.js";

type Prefs = Record<string, string | number | boolean | Uint8Array>;

export interface StoreInput {
  prefs: Prefs;
  /** The snapshot saved when the record is intact (to compare with). */
  saved: SessionSnapshot | undefined;
}

const DOMAIN = "mqtt-fz";
const OPTIONS = Object.freeze({ maxBytes: 2048, chunkBytes: 256 });

class MemPrefs implements PreferenceApi {
  constructor(readonly values: Prefs = {}) {}
  getPreference(domain: string, key: string) {
    return Object.prototype.hasOwnProperty.call(this.values, `${domain}.${key}`) ? this.values[`${domain}.${key}`] : undefined;
  }
  setPreference(domain: string, key: string, value: string | number | boolean | Uint8Array) {
    this.values[`${domain}.${key}`] = value instanceof Uint8Array ? value.slice() : value;
  }
  deletePreference(domain: string, key: string) {
    delete this.values[`${domain}.${key}`];
  }
}

function publish(rng: Rng, withId: boolean): PublishPacket {
  const qos = (1 + rng.int(2)) as QoS;
  const p: PublishPacket = { type: "publish", topic: `t/${rng.int(100)}`, payload: rng.bytes(rng.size(40)), qos, retain: rng.bool(), dup: false };
  if (withId) p.packetId = 1 + rng.int(0xffff);
  return p;
}

function snapshot(rng: Rng): SessionSnapshot {
  const ids = new Set<number>();
  const outgoing = Array.from({ length: rng.size(5) }, () => ({ packet: publish(rng, true), released: rng.bool() })).filter((o) => {
    if (ids.has(o.packet.packetId!)) return false;
    ids.add(o.packet.packetId!);
    return true;
  });
  return {
    clientId: rng.pick(["dev", "", "é"]),
    outgoing,
    queued: Array.from({ length: rng.size(5) }, () => publish(rng, false)),
    incoming: Array.from({ length: rng.size(4) }, () => 1 + rng.int(0xffff)),
  };
}

export function generateStore(rng: Rng): StoreInput {
  const prefs = new MemPrefs();
  const store = new PreferenceSessionStore(prefs, DOMAIN, OPTIONS);
  let saved: SessionSnapshot | undefined;
  const saves = 1 + rng.int(3);
  for (let k = 0; k < saves; k++) {
    saved = snapshot(rng);
    try {
      store.save(saved);
    } catch {
      saved = undefined; // store-full: the previous record stays (compared loosely below)
    }
  }
  const keys = Object.keys(prefs.values);
  const mode = rng.int(6);
  if (mode === 0) return { prefs: prefs.values, saved }; // intact
  const values = prefs.values;
  const key = rng.pick(keys);
  if (mode === 1) delete values[key]; // torn: a chunk never written
  else if (mode === 2 && values[key] instanceof Uint8Array) values[key] = mutateBytes(rng, values[key] as Uint8Array, 3);
  else if (mode === 3) values[key] = rng.pick(["x", 7, true, new Uint8Array(0)]);
  else if (mode === 4) for (const k of keys) if (values[k] instanceof Uint8Array) values[k] = rng.bytes((values[k] as Uint8Array).length);
  else {
    // corrupt the body and fix up the CRC, so the decoder behind the checksum is reached
    for (const slot of ["a", "b"]) {
      const chunks: Uint8Array[] = [];
      for (let c = 0; values[`${DOMAIN}.${slot}${c}`] instanceof Uint8Array; c++) chunks.push(values[`${DOMAIN}.${slot}${c}`] as Uint8Array);
      if (!chunks.length) continue;
      const record = Uint8Array.from(chunks.flatMap((c) => Array.from(c)));
      if (record.length < 16) continue;
      let body = mutateBytes(rng, record.subarray(16), 3);
      if (body.length > OPTIONS.maxBytes - 16) body = body.subarray(0, OPTIONS.maxBytes - 16);
      const fixed = new Uint8Array(16 + body.length);
      fixed.set(record.subarray(0, 16));
      const dv = new DataView(fixed.buffer);
      dv.setUint32(8, body.length);
      dv.setUint32(12, crc32(body));
      fixed.set(body, 16);
      for (let c = 0; c < chunks.length; c++) delete values[`${DOMAIN}.${slot}${c}`];
      for (let i = 0, c = 0; i < fixed.length; i += OPTIONS.chunkBytes, c++) values[`${DOMAIN}.${slot}${c}`] = fixed.slice(i, i + OPTIONS.chunkBytes);
    }
  }
  return { prefs: values, saved: mode === 0 ? saved : undefined };
}

export const storeTarget: FuzzTarget<StoreInput> = {
  name: "session-store",
  description: "persisted MQTT session records after torn writes, corruption, CRC-fixed corruption, wrong types: load() gives undefined or a valid snapshot, never throws",
  generate: generateStore,
  show: (i) => showValue(Object.fromEntries(Object.entries(i.prefs).map(([k, v]) => [k, v instanceof Uint8Array ? hex(v) : v]))),
  check(input) {
    const prefs = new MemPrefs({ ...input.prefs });
    const store = new PreferenceSessionStore(prefs, DOMAIN, OPTIONS);
    const snap = store.load();
    if (snap === undefined) return "ok:none";
    for (const o of snap.outgoing) {
      assert(o.packet.type === "publish" && o.packet.qos > 0 && o.packet.packetId !== undefined, "outgoing entry is not a QoS>0 PUBLISH with an id");
      encodePacket(o.packet, 5);
    }
    for (const q of snap.queued) assert(q.type === "publish" && q.packetId === undefined, "queued entry has an id or is not a PUBLISH");
    for (const n of snap.incoming) assert(Number.isInteger(n) && n >= 0 && n <= 0xffff, "incoming id out of range");
    if (input.saved !== undefined) {
      const norm = (s: SessionSnapshot) => ({ ...s, outgoing: s.outgoing.map((o) => ({ ...o, packet: { ...o.packet, dup: false } })) });
      // the queue is saved as far as it fits (store.ts), so compare it as a prefix
      const saved = norm(input.saved);
      const got = norm(snap);
      assert(deepEqual({ ...got, queued: [] }, { ...saved, queued: [] }), "intact record loads differently from what was saved");
      assert(deepEqual(got.queued, saved.queued.slice(0, got.queued.length).map((q) => ({ ...q, packetId: undefined }))), "queued messages load differently");
    }
    return "ok:snapshot";
  },
};
