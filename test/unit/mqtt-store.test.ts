import { describe, expect, test } from "vitest";
import { PreferenceSessionStore, MemorySessionStore, type PreferenceApi } from "../../src/mqtt/store.js";
import { crc32 } from "../../src/util/crc32.js";
import { MqttSession, type SessionSnapshot } from "../../src/mqtt/session.js";
import { MoteError } from "../../src/errors.js";
import type { PublishPacket } from "../../src/mqtt/packets.js";

/** An in-memory preference API that can lose power after a given number of writes. */
class FakePreferences implements PreferenceApi {
  values = new Map<string, string | number | boolean | Uint8Array>();
  writesLeft = Infinity;
  writes = 0;
  getPreference(d: string, k: string) {
    const v = this.values.get(d + "/" + k);
    return v instanceof Uint8Array ? v.slice() : v;
  }
  setPreference(d: string, k: string, v: string | number | boolean | Uint8Array) {
    if (this.writesLeft-- <= 0) throw new Error("power cut");
    this.writes++;
    if (typeof k !== "string" || k.length > 15 || d.length > 15) throw new Error("NVS key too long");
    this.values.set(d + "/" + k, v instanceof Uint8Array ? v.slice() : v);
  }
  deletePreference(d: string, k: string) {
    this.values.delete(d + "/" + k);
  }
}

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
function publish(id: number | undefined, size: number, qos: 1 | 2 = 1): PublishPacket {
  const p: PublishPacket = { type: "publish", topic: `t/${id ?? "q"}`, payload: bytes(size, id ?? 7), qos, retain: false, dup: false };
  if (id !== undefined) p.packetId = id;
  return p;
}
function snapshot(gen: number): SessionSnapshot {
  return {
    clientId: `dev-${gen}`,
    outgoing: [{ packet: publish(gen, 700), released: false }, { packet: publish(gen + 1, 600, 2), released: true }],
    queued: [publish(undefined, 300)],
    incoming: [gen, 100 + gen],
  };
}

describe("the preference session store", () => {
  test("loads what it saved, messages and ids intact", () => {
    const prefs = new FakePreferences();
    const store = new PreferenceSessionStore(prefs, "mqtt");
    expect(store.load()).toBeUndefined();
    store.save(snapshot(1));
    expect(store.load()).toEqual(snapshot(1));
    store.save(snapshot(2));
    expect(store.load()).toEqual(snapshot(2));
    store.save(snapshot(3));
    expect(store.load()).toEqual(snapshot(3));
  });

  test("a save that changes nothing writes nothing (flash wear), after a save or after a load (a reboot)", () => {
    const prefs = new FakePreferences();
    const store = new PreferenceSessionStore(prefs, "mqtt", { chunkBytes: 512 });
    store.save(snapshot(1));
    const written = prefs.writes;
    expect(written).toBe(4); // 1,672 bytes in 512-byte chunks, and no pointer key
    store.save(snapshot(1));
    expect(prefs.writes).toBe(written);
    const rebooted = new PreferenceSessionStore(prefs, "mqtt", { chunkBytes: 512 });
    expect(rebooted.load()).toEqual(snapshot(1));
    rebooted.save(snapshot(1));
    expect(prefs.writes).toBe(written);
    rebooted.save(snapshot(2)); // a change is written, into the other slot
    expect(prefs.writes).toBe(2 * written);
    expect(new PreferenceSessionStore(prefs, "mqtt", { chunkBytes: 512 }).load()).toEqual(snapshot(2));
    // an empty session after one with messages is a change too
    const empty: SessionSnapshot = { clientId: "dev-2", outgoing: [], queued: [], incoming: [] };
    rebooted.save(empty);
    expect(prefs.writes).toBe(2 * written + 1);
    expect(new PreferenceSessionStore(prefs, "mqtt").load()).toEqual(empty);
  });

  test("a save reads nothing back once the store knows its newest record (from a load or a save)", () => {
    const prefs = new FakePreferences();
    let reads = 0;
    const get = prefs.getPreference.bind(prefs);
    prefs.getPreference = (d: string, k: string) => (reads++, get(d, k));
    const store = new PreferenceSessionStore(prefs, "mqtt", { chunkBytes: 256 });
    store.save(snapshot(1)); // the first save of a new object finds out what is there
    const first = reads;
    expect(first).toBeGreaterThan(0);
    for (let g = 2; g <= 5; g++) store.save(snapshot(g));
    expect(reads).toBe(first);
    // and the alternation is still right: a new object (a reboot) loads the last one
    expect(new PreferenceSessionStore(prefs, "mqtt", { chunkBytes: 256 }).load()).toEqual(snapshot(5));
  });

  test("a power cut at any write during a save leaves the previous record in force", () => {
    for (let cut = 0; cut < 6; cut++) {
      const prefs = new FakePreferences();
      const store = new PreferenceSessionStore(prefs, "mqtt", { chunkBytes: 256 });
      store.save(snapshot(1));
      store.save(snapshot(2));
      prefs.writesLeft = cut;
      expect(() => store.save(snapshot(3))).toThrow("power cut");
      // a fresh store object, as after a reboot
      expect(new PreferenceSessionStore(prefs, "mqtt", { chunkBytes: 256 }).load()).toEqual(snapshot(2));
      // and the next save after the reboot works and wins
      prefs.writesLeft = Infinity;
      store.save(snapshot(4));
      expect(store.load()).toEqual(snapshot(4));
    }
  });

  test("a corrupted chunk is caught by the checksum and the other slot is used", () => {
    const prefs = new FakePreferences();
    const store = new PreferenceSessionStore(prefs, "mqtt", { chunkBytes: 256 });
    store.save(snapshot(1));
    store.save(snapshot(2)); // in slot b
    const chunk = prefs.values.get("mqtt/b1") as Uint8Array;
    chunk[10] ^= 0xff;
    expect(store.load()).toEqual(snapshot(1));
  });

  test("is bounded: queued messages past maxBytes are left out, in-flight past it is refused", () => {
    const prefs = new FakePreferences();
    const store = new PreferenceSessionStore(prefs, "mqtt", { maxBytes: 2048, chunkBytes: 512 });
    const s = snapshot(1);
    s.queued = [publish(undefined, 400), publish(undefined, 400), publish(undefined, 400)];
    store.save(s);
    expect(store.load()!.queued.length).toBe(1); // ~1.3 KB in flight + one 400 B message fit in 2 KB, two do not
    s.outgoing = [{ packet: publish(1, 1700), released: false }];
    s.queued = [publish(undefined, 400), publish(undefined, 400)];
    store.save(s);
    expect(store.load()!.queued.length).toBe(0);
    s.outgoing = [{ packet: publish(1, 1000), released: false }];
    store.save(s);
    expect(store.load()!.queued.length).toBe(2);
    s.outgoing = [{ packet: publish(1, 3000), released: false }];
    expect(() => store.save(s)).toThrow(MoteError);
    expect(store.load()!.outgoing[0].packet.payload.length).toBe(1000);
    const keys = [...prefs.values.keys()];
    expect(keys.length).toBeLessThanOrEqual(2 * 4 + 1);
    expect(keys.every((k) => k.split("/")[1].length <= 15)).toBe(true);
  });

  test("clear() forgets everything", () => {
    const prefs = new FakePreferences();
    const store = new PreferenceSessionStore(prefs, "mqtt");
    store.save(snapshot(1));
    store.clear();
    expect(store.load()).toBeUndefined();
    expect(prefs.values.size).toBe(0);
  });

  test("a session restored from the store after a reboot resends its messages", () => {
    const prefs = new FakePreferences();
    const store = new PreferenceSessionStore(prefs, "mqtt");
    const s = new MqttSession({ clientId: "dev", clean: false });
    s.handle({ type: "publish", message: { topic: "a", payload: bytes(3, 1), qos: 1 } }, 0); // queued offline
    for (const a of s.handle({ type: "open" }, 0)) void a;
    store.save(s.snapshot());
    const again = new MqttSession({ clientId: "dev", clean: false });
    again.restore(new PreferenceSessionStore(prefs, "mqtt").load()!);
    expect(again.queuedCount).toBe(1);
  });

  test("CRC-32 is the IEEE one", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });

  test("the memory store round-trips too", () => {
    const m = new MemorySessionStore();
    m.save(snapshot(5));
    expect(m.load()).toEqual(snapshot(5));
  });
});

describe("the preference session store over the platform's preferences (Node twin)", () => {
  test("saves, survives a new store object (a reboot), and keeps keys within NVS limits", async () => {
    const prefs = await import("../../src/platform/preferences.js");
    const domain = `mq${Date.now() % 100000}`;
    const store = new PreferenceSessionStore(prefs, domain);
    store.save(snapshot(1));
    store.save(snapshot(2));
    expect(new PreferenceSessionStore(prefs, domain).load()).toEqual(snapshot(2));
    expect(prefs.preferenceKeys(domain).every((k) => k.length <= 15)).toBe(true);
    // a torn save (the power goes after the first chunk) leaves snapshot 2 in force
    let writes = 0;
    const tearing = {
      ...prefs,
      setPreference(d: string, k: string, v: Uint8Array | string | number | boolean) {
        if (writes++ >= 1) throw new Error("power cut");
        prefs.setPreference(d, k, v);
      },
    };
    expect(() => new PreferenceSessionStore(tearing, domain).save(snapshot(3))).toThrow("power cut");
    expect(new PreferenceSessionStore(prefs, domain).load()).toEqual(snapshot(2));
    store.clear();
    expect(store.load()).toBeUndefined();
  });
});
