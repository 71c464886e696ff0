/**
 * The CoAP duplicate table (src/coap/dedup.ts): bounded, oldest first, replies
 * kept within a byte budget, Empty replies made again, slots that move when the
 * ring grows.
 */
import { describe, expect, test } from "vitest";
import { DedupTable } from "../../src/coap/dedup.js";
import { encodeEmpty } from "../../src/coap/codec.js";
import { midKey, peerOfMidKey } from "../../src/coap/message-layer.js";
import { seededRandom } from "../../src/util/prng.js";

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe("DedupTable", () => {
  test("keeps at most `max` messages, forgetting the oldest; replies and flags follow their message through the ring's growth", () => {
    const t = new DedupTable(8, 1000, 1 << 20);
    for (let mid = 0; mid < 20; mid++) {
      const key = midKey(1, mid);
      t.remember(key, mid, mid % 2 === 0);
      if (mid % 3 === 0) t.setEmptyReply(key, "ACK");
      else t.setReply(key, bytes(3, mid));
      // every message still held keeps its own reply, however the ring grew or turned
      for (let k = Math.max(0, mid - 7); k <= mid; k++) {
        const slot = t.find(midKey(1, k));
        expect(slot).toBeGreaterThanOrEqual(0);
        expect(t.reply(slot)).toEqual(k % 3 === 0 ? encodeEmpty("ACK", k) : bytes(3, k));
      }
      expect(t.size).toBe(Math.min(mid + 1, 8));
    }
    expect(t.find(midKey(1, 11))).toBe(-1);
  });

  test("replies over the byte budget: the oldest are dropped first, and a dropped reply makes an idempotent request replayable", () => {
    const t = new DedupTable(16, 1000, 10);
    for (let mid = 1; mid <= 3; mid++) {
      t.remember(midKey(0, mid), 0, mid !== 2);
      t.setReply(midKey(0, mid), bytes(4, mid));
    }
    // 12 bytes > 10: the first reply went
    const first = t.find(midKey(0, 1));
    expect(t.reply(first)).toBeUndefined();
    expect(t.replayable(first)).toBe(true);
    expect(t.reply(t.find(midKey(0, 2)))).toEqual(bytes(4, 2));
    // a reply larger than the budget is not kept; the request (not idempotent) is not replayable
    t.setReply(midKey(0, 2), bytes(11, 9));
    expect(t.reply(t.find(midKey(0, 2)))).toBeUndefined();
    expect(t.replayable(t.find(midKey(0, 2)))).toBe(false);
    // Empty replies cost no budget
    t.remember(midKey(0, 4), 0, false);
    t.setEmptyReply(midKey(0, 4), "RST");
    expect(t.reply(t.find(midKey(0, 4)))).toEqual(encodeEmpty("RST", 4));
    expect(t.reply(t.find(midKey(0, 3)))).toEqual(bytes(4, 3));
  });

  test("expires after the lifetime, in order, past slots forgotten out of turn; a peer's messages can be forgotten", () => {
    const t = new DedupTable(64, 100, 1 << 20);
    for (let i = 0; i < 10; i++) t.remember(midKey(i % 2, i), i * 10, false);
    t.forget(t.find(midKey(0, 0)));
    t.forget(t.find(midKey(1, 3)));
    t.expire(125); // remembered at 0..20 expire at 100..120
    expect([0, 1, 2].map((i) => t.find(midKey(i % 2, i)))).toEqual([-1, -1, -1]);
    expect(t.find(midKey(0, 4))).toBeGreaterThanOrEqual(0);
    t.forgetPeer(1, peerOfMidKey);
    expect([4, 5, 6, 7, 8, 9].map((i) => t.find(midKey(i % 2, i)) >= 0)).toEqual([true, false, true, false, true, false]);
    expect(t.size).toBe(3);
    t.expire(1000);
    expect(t.size).toBe(0);
    // a message remembered again replaces what was under its key
    t.remember(midKey(0, 1), 2000, false);
    t.setReply(midKey(0, 1), bytes(2, 1));
    t.remember(midKey(0, 1), 2001, true);
    expect(t.size).toBe(1);
    expect(t.reply(t.find(midKey(0, 1)))).toBeUndefined();
  });

  test("a seeded run of 20 000 remembers, forgets, expiries and peer drops agrees with a plain model of the ring", () => {
    for (const seed of [1, 2, 3]) {
      const rnd = seededRandom(seed);
      const max = 5 + Math.floor(rnd() * 60);
      const t = new DedupTable(max, 500, 1 << 20);
      // the model: the ring's entries in order (a forgotten one stays, dead, until its turn) and the live ones by key
      type Entry = { key: number; expires: number; live: boolean };
      const ring: Entry[] = [];
      const live = new Map<number, Entry>();
      const kill = (e: Entry) => {
        e.live = false;
        if (live.get(e.key) === e) live.delete(e.key); // a dead entry leaving the ring leaves a newer one of its key alone
      };
      let now = 0;
      for (let step = 0; step < 20_000; step++) {
        now += Math.floor(rnd() * 3);
        t.expire(now);
        while (ring.length > 0 && ring[0].expires <= now) kill(ring.shift()!);
        const key = midKey(Math.floor(rnd() * 4), Math.floor(rnd() * 40)); // few keys: many collisions and repeats
        const r = rnd();
        if (r < 0.6) {
          t.remember(key, now, false);
          const old = live.get(key);
          if (old) kill(old);
          if (ring.length >= max) kill(ring.shift()!);
          const e = { key, expires: now + 500, live: true };
          ring.push(e);
          live.set(key, e);
        } else if (r < 0.9) {
          const slot = t.find(key);
          expect(slot >= 0).toBe(live.has(key));
          if (slot >= 0) {
            t.forget(slot);
            kill(live.get(key)!);
          }
        } else if (r < 0.92) {
          const pid = Math.floor(rnd() * 4);
          t.forgetPeer(pid, peerOfMidKey);
          for (const e of [...live.values()]) if (peerOfMidKey(e.key) === pid) kill(e);
        }
        expect(t.size).toBe(live.size);
      }
      for (const k of live.keys()) expect(t.find(k)).toBeGreaterThanOrEqual(0);
    }
  });
});
