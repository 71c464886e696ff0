import { describe, expect, test } from "vitest";
import { WriteQueue } from "../../src/net/write-queue.js";
import { NetError } from "../../src/net/errors.js";

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

describe("WriteQueue", () => {
  test("push says whether the queue is still below its high-water mark", () => {
    const q = new WriteQueue(10, 20);
    expect(q.push(bytes(4))).toBe(true);
    expect(q.push(bytes(5))).toBe(true);
    expect(q.push(bytes(1))).toBe(false); // 10 = at the mark
    expect(q.size).toBe(10);
  });

  test("a push past the limit is refused with overflow and changes nothing", () => {
    const q = new WriteQueue(10, 20);
    q.push(bytes(15));
    expect(() => q.push(bytes(6))).toThrowError(expect.objectContaining({ code: "overflow" }));
    expect(() => q.push(bytes(6))).toThrow(NetError);
    expect(q.size).toBe(15);
    expect(q.push(bytes(5))).toBe(false);
    expect(q.size).toBe(20);
  });

  test("take hands out at most the budget, splitting chunks as views, in order", () => {
    const q = new WriteQueue(100, 100);
    q.push(new Uint8Array([1, 2, 3]));
    q.push(new Uint8Array([4, 5]));
    expect([...q.take(2)!]).toEqual([1, 2]);
    expect([...q.take(10)!]).toEqual([3]);
    expect([...q.take(10)!]).toEqual([4, 5]);
    expect(q.take(10)).toBeUndefined();
    expect(q.isEmpty).toBe(true);
  });

  test("take with no budget gives nothing; empty chunks are ignored", () => {
    const q = new WriteQueue(8, 8);
    q.push(new Uint8Array(0));
    expect(q.take(5)).toBeUndefined();
    q.push(bytes(3));
    expect(q.take(0)).toBeUndefined();
    expect(q.size).toBe(3);
  });

  test("many small chunks stream through in order without growing", () => {
    const q = new WriteQueue(64, 128);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 1000; round++) {
      while (q.size < 60) q.push(new Uint8Array([next++ & 0xff]));
      for (let c = q.take(7); c; c = q.take(7)) for (const b of c) expect(b).toBe(expected++ & 0xff);
    }
    expect(expected).toBe(next);
  });

  test("bad bounds are invalid-argument", () => {
    expect(() => new WriteQueue(0, 10)).toThrowError(expect.objectContaining({ code: "invalid-argument" }));
    expect(() => new WriteQueue(10, 5)).toThrowError(expect.objectContaining({ code: "invalid-argument" }));
  });
});
