/**
 * Broker-list failover in the link lifecycle (src/mqtt/reconnect.ts) on a fake
 * clock: each failure moves the next attempt to the next broker, after the
 * same backoff as with one broker; a connection stays on its broker; the
 * network coming back retries the broker it was on.
 */
import { describe, expect, test } from "vitest";
import { LinkLifecycle, type LinkAction, type LinkOptions } from "../../src/mqtt/reconnect.js";

function lifecycle(o: Partial<LinkOptions> = {}): LinkLifecycle {
  return new LinkLifecycle({ initialDelayMs: 500, maxDelayMs: 30_000, stableAfterMs: 30_000, transportTimeoutMs: 10_000, rng: () => 0.999_999_9, brokers: 3, ...o });
}

const opened = (actions: LinkAction[]) => actions.filter((a) => a.type === "open").map((a) => (a as { broker: number }).broker);

describe("a broker list", () => {
  test("the first attempt goes to the first broker", () => {
    const l = lifecycle();
    expect(opened(l.handle({ type: "start" }, 0))).toEqual([0]);
    expect(l.broker).toBe(0);
  });

  test("each failed attempt moves to the next broker, round robin, with the backoff of one broker", () => {
    const l = lifecycle();
    let now = 0;
    l.handle({ type: "start" }, now);
    const seen: number[] = [];
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const [w] = l.handle({ type: "lost" }, now) as unknown as [{ type: "wait"; delayMs: number }];
      delays.push(w.delayMs);
      now = l.nextDeadline()!;
      seen.push(...opened(l.handle({ type: "timer" }, now)));
    }
    expect(seen).toEqual([1, 2, 0, 1, 2, 0]);
    // full jitter at r ≈ 1: the ceiling 500 · 2^n, as for a single broker
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000]);
  });

  test("a connection lost after it was up moves to the next broker within the first backoff ceiling", () => {
    const l = lifecycle();
    l.handle({ type: "start" }, 0);
    l.handle({ type: "transport-up" }, 10);
    l.handle({ type: "connected" }, 20);
    const [w] = l.handle({ type: "lost" }, 60_000) as unknown as [{ type: "wait"; delayMs: number }];
    expect(w.delayMs).toBeLessThanOrEqual(500);
    expect(opened(l.handle({ type: "timer" }, l.nextDeadline()!))).toEqual([1]);
  });

  test("an attempt that times out is abandoned and the next broker is tried", () => {
    const l = lifecycle();
    l.handle({ type: "start" }, 0);
    const a = l.handle({ type: "timer" }, 10_000);
    expect(a.map((x) => x.type)).toEqual(["abandon", "wait"]);
    expect(opened(l.handle({ type: "timer" }, l.nextDeadline()!))).toEqual([1]);
  });

  test("a connected link stays on its broker; the network coming back retries the broker it was trying", () => {
    const l = lifecycle();
    l.handle({ type: "start" }, 0);
    l.handle({ type: "lost" }, 5);
    expect(opened(l.handle({ type: "timer" }, l.nextDeadline()!))).toEqual([1]);
    expect(opened(l.handle({ type: "network-up" }, 700))).toEqual([1]);
    l.handle({ type: "connected" }, 710);
    expect(l.handle({ type: "network-up" }, 800)).toEqual([]);
    expect(l.broker).toBe(1);
  });

  test("a connection lost and the next one up on another broker says failed-over (the will may have died with it)", () => {
    const l = lifecycle();
    l.handle({ type: "start" }, 0);
    l.handle({ type: "connected" }, 10);
    l.handle({ type: "lost" }, 1000);
    l.handle({ type: "timer" }, l.nextDeadline()!); // broker 1: refused
    l.handle({ type: "lost" }, 1100);
    l.handle({ type: "timer" }, l.nextDeadline()!); // broker 2
    expect(l.handle({ type: "connected" }, 3000)).toEqual([{ type: "failed-over", from: 0, to: 2 }]);
    // said once: a later connect on the same broker after a failed attempt is not another failover
    l.handle({ type: "lost" }, 4000);
    l.handle({ type: "timer" }, l.nextDeadline()!);
    l.handle({ type: "lost" }, 4100);
    l.handle({ type: "timer" }, l.nextDeadline()!);
    l.handle({ type: "lost" }, 4200);
    l.handle({ type: "timer" }, l.nextDeadline()!);
    expect(l.broker).toBe(2);
    expect(l.handle({ type: "connected" }, 9000)).toEqual([]);
  });

  test("failed attempts alone, or a reconnect to the same broker, are no failover", () => {
    const l = lifecycle();
    l.handle({ type: "start" }, 0);
    l.handle({ type: "lost" }, 5); // never connected to broker 0
    l.handle({ type: "timer" }, l.nextDeadline()!);
    expect(l.handle({ type: "connected" }, 600)).toEqual([]);
    const one = lifecycle({ brokers: 1 });
    one.handle({ type: "start" }, 0);
    one.handle({ type: "connected" }, 5);
    one.handle({ type: "lost" }, 50);
    one.handle({ type: "timer" }, one.nextDeadline()!);
    expect(one.handle({ type: "connected" }, 700)).toEqual([]);
  });

  test("reconnect off: a failed attempt tries the next broker at once, until every broker was tried", () => {
    const l = lifecycle({ reconnect: false });
    expect(opened(l.handle({ type: "start" }, 0))).toEqual([0]);
    expect(opened(l.handle({ type: "lost" }, 5))).toEqual([1]);
    expect(opened(l.handle({ type: "lost" }, 9))).toEqual([2]);
    expect(l.handle({ type: "lost" }, 12)).toEqual([]);
    expect(l.state).toBe("idle");
    // and a connection that was up and is lost stays down
    const c = lifecycle({ reconnect: false });
    c.handle({ type: "start" }, 0);
    c.handle({ type: "connected" }, 1);
    expect(c.handle({ type: "lost" }, 2)).toEqual([]);
    expect(c.state).toBe("idle");
  });

  test("one broker (the default) is always broker 0", () => {
    const l = lifecycle({ brokers: undefined });
    l.handle({ type: "start" }, 0);
    l.handle({ type: "lost" }, 1);
    expect(opened(l.handle({ type: "timer" }, l.nextDeadline()!))).toEqual([0]);
  });

  test("a nonsense list size counts as one broker", () => {
    for (const n of [0, -2, 1.5, NaN]) {
      const l = lifecycle({ brokers: n });
      expect(opened(l.handle({ type: "start" }, 0))).toEqual([0]);
      l.handle({ type: "lost" }, 1);
      expect(opened(l.handle({ type: "timer" }, l.nextDeadline()!))).toEqual([0]);
    }
  });
});
