import { describe, expect, test } from "vitest";
import { Outbox } from "../../src/mqtt/outbox.js";
import { PendingList } from "../../src/mqtt/pending.js";
import { OfflineQueue } from "../../src/mqtt/offline-queue.js";
import type { PublishPacket } from "../../src/mqtt/packets.js";

describe("Outbox (the client's bytes waiting for the socket)", () => {
  test("packets side by side in one buffer leave as one view of it, without a copy", () => {
    const slab = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);
    const box = new Outbox((f) => (f as () => void)());
    box.push(slab.subarray(0, 3));
    box.push(slab.subarray(3, 7));
    const out = box.take(100);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(out.buffer).toBe(slab.buffer);
    expect(box.empty).toBe(true);
    expect(box.bytes).toBe(0);
  });

  test("packets from different buffers are joined by a copy, in order, as far as the budget allows", () => {
    const box = new Outbox((f) => (f as () => void)());
    box.push(new Uint8Array([1, 2]));
    box.push(new Uint8Array([3, 4]));
    box.push(new Uint8Array([5, 6, 7]));
    const first = box.take(5);
    expect(Array.from(first)).toEqual([1, 2, 3, 4]);
    expect(box.bytes).toBe(3);
    expect(Array.from(box.take(2))).toEqual([5, 6]);
    expect(Array.from(box.take(2))).toEqual([7]);
    expect(box.empty).toBe(true);
  });

  test("a ring that only grows: packets in order across wrap-around and growth, callbacks in order, a drop runs them after emptying", () => {
    const box = new Outbox((f) => (f as () => void)());
    const order: number[] = [];
    let next = 0;
    let expected = 0;
    const push = () => {
      const n = next++;
      box.push(new Uint8Array([n & 0xff]));
      box.whenLastWritten(() => order.push(n));
    };
    // 3 in, 2 out, many times: the ring of 4 wraps, then grows while wrapped
    for (let round = 0; round < 20; round++) {
      for (let k = 0; k < 3; k++) push();
      for (let k = 0; k < 2; k++) expect(Array.from(box.take(1))).toEqual([expected++ & 0xff]);
    }
    expect(box.bytes).toBe(20);
    expect(order).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // a callback of a dropped packet that pushes again finds an empty box
    box.whenLastWritten(() => box.push(new Uint8Array([9])));
    box.drop();
    expect(order).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(box.bytes).toBe(1);
    expect(Array.from(box.take(10))).toEqual([9]);
    expect(box.empty).toBe(true);
  });

  test("a callback runs when its packet's last byte is taken, or when the box is dropped", () => {
    const box = new Outbox((f) => (f as () => void)());
    const seen: string[] = [];
    expect(box.whenLastWritten(() => seen.push("none"))).toBe(false);
    box.push(new Uint8Array([1, 2, 3]));
    box.whenLastWritten(() => seen.push("a"));
    box.take(2);
    expect(seen).toEqual([]);
    box.take(2);
    expect(seen).toEqual(["a"]);
    box.push(new Uint8Array([4]));
    box.whenLastWritten(() => seen.push("b"));
    box.drop();
    expect(seen).toEqual(["a", "b"]);
    expect(box.bytes).toBe(0);
  });

  test("several requests on the same packet are told in order, when it is written or dropped", () => {
    const told: unknown[] = [];
    const box = new Outbox((ref) => told.push(ref));
    box.push(new Uint8Array([1]));
    for (const r of ["a", "b", "c"]) box.whenLastWritten(r);
    box.push(new Uint8Array([2]));
    box.whenLastWritten("d");
    box.take(1);
    expect(told).toEqual(["a", "b", "c"]);
    box.push(new Uint8Array([3]));
    box.whenLastWritten("e");
    box.whenLastWritten("f");
    box.drop();
    expect(told).toEqual(["a", "b", "c", "d", "e", "f"]);
  });
});

describe("PendingList (the callers' promises)", () => {
  test("settles each request once; failAll fails the rest; other refs are ignored", async () => {
    const list = new PendingList(() => undefined);
    const a = list.open(false);
    const b = list.open(true);
    const c = list.open(false);
    expect(list.isQos0(b.pending)).toBe(true);
    list.settle(b.pending, "b");
    list.settle(b.pending, "again");
    list.settle(undefined, "x");
    list.settle(42, "x");
    expect(list.isWaiting(b.pending)).toBe(false);
    list.failAll(() => new Error("ended"));
    await expect(b.promise).resolves.toBe("b");
    await expect(a.promise).rejects.toThrow("ended");
    await expect(c.promise).rejects.toThrow("ended");
    expect(list.isWaiting(a.pending)).toBe(false);
  });

  test("a callback request (MqttClient.send) is settled once through its callback; one that throws is reported, the list goes on", () => {
    const reported: unknown[] = [];
    const list = new PendingList((e) => reported.push(e));
    const calls: (string | undefined)[] = [];
    const done = (e: Error | undefined) => calls.push(e?.message);
    const ok = list.openWithCallback(false, done);
    const bad = list.openWithCallback(true, done);
    const throws = list.openWithCallback(false, () => {
      throw new Error("callback bug");
    });
    const rest = list.openWithCallback(false, done);
    expect(list.isQos0(bad)).toBe(true);
    list.settle(ok, undefined);
    list.settle(ok, undefined); // once only
    list.settle(bad, undefined, new Error("refused"));
    list.settle(throws, undefined);
    expect(reported).toHaveLength(1);
    expect((reported[0] as Error).message).toBe("callback bug");
    list.failAll(() => new Error("ended"));
    expect(calls).toEqual([undefined, "refused", "ended"]);
    expect(list.isWaiting(rest)).toBe(false);
  });

  test("callback requests with the same done share one object: done is called once for each, and failAll fails each still waiting", () => {
    const list = new PendingList(() => undefined);
    const calls: (string | undefined)[] = [];
    const done = (e: Error | undefined) => calls.push(e?.message);
    const first = list.openWithCallback(false, done);
    expect(list.openWithCallback(false, done)).toBe(first);
    expect(list.openWithCallback(false, done)).toBe(first);
    list.settle(first, undefined);
    list.settle(first, undefined, new Error("rejected"));
    expect(list.isWaiting(first)).toBe(true); // one of the three waits still
    list.settle(first, undefined);
    expect(list.isWaiting(first)).toBe(false);
    expect(list.settle(first, undefined)).toBe(false); // none waits: ignored
    // steady telemetry: the next message takes the same object again, none is made
    expect(list.openWithCallback(false, done)).toBe(first);
    list.openWithCallback(false, done);
    expect(list.openWithCallback(true, done)).not.toBe(first); // QoS 0 settles at its write: its own
    list.failAll(() => new Error("ended"));
    expect(calls).toEqual([undefined, "rejected", undefined, "ended", "ended", "ended"]);
    expect(list.isWaiting(first)).toBe(false);
  });
});

describe("OfflineQueue (bounded, with a policy when full)", () => {
  const msg = (qos: 0 | 1, n = 1): PublishPacket => ({ type: "publish", topic: "t", payload: new Uint8Array(n), qos, retain: false, dup: false });

  test("drop-oldest-qos0 makes room by dropping the oldest QoS 0 message, else refuses", () => {
    const q = new OfflineQueue(2, 1000, "drop-oldest-qos0");
    const dropped: unknown[] = [];
    expect(q.add(msg(0), "a", 0, (d) => dropped.push(d.ref))).toBeUndefined();
    expect(q.add(msg(1), "b", 0, (d) => dropped.push(d.ref))).toBeUndefined();
    expect(q.add(msg(1), "c", 0, (d) => dropped.push(d.ref))).toBeUndefined();
    expect(dropped).toEqual(["a"]);
    expect(q.items.map((i) => i.ref)).toEqual(["b", "c"]);
    expect(q.add(msg(1), "d", 0, (d) => dropped.push(d.ref))).toBe("full");
  });

  test("reject refuses when full; a message over the byte bound is too large", () => {
    const q = new OfflineQueue(5, 10, "reject");
    expect(q.add(msg(0, 20), "big", 0, () => {})).toBe("too-large");
    expect(q.add(msg(0, 8), "a", 0, () => {})).toBeUndefined();
    expect(q.add(msg(0, 8), "b", 0, () => {})).toBe("full");
    expect(q.shift()?.ref).toBe("a");
    expect(q.add(msg(0, 8), "b", 0, () => {})).toBeUndefined();
  });
});
