/**
 * The MQTT client's link lifecycle (src/mqtt/reconnect.ts) on a fake clock:
 * when attempts start, are abandoned, and how long it waits between them —
 * above all, that the link is back within 2 s of the network, whatever an
 * attempt begun during the outage was doing.
 */
import { describe, expect, test } from "vitest";
import { LinkLifecycle, type LinkAction, type LinkEvent, type LinkOptions } from "../../src/mqtt/reconnect.js";
import { seededRandom } from "../../src/util/prng.js";

const kinds = (actions: LinkAction[]) => actions.map((a) => a.type);

function lifecycle(o: Partial<LinkOptions> = {}): LinkLifecycle {
  return new LinkLifecycle({ initialDelayMs: 500, maxDelayMs: 30_000, stableAfterMs: 30_000, transportTimeoutMs: 30_000, rng: () => 0.999, ...o });
}

describe("attempts and backoff", () => {
  test("start opens attempt 1; the transport deadline stands until the socket is up", () => {
    const l = lifecycle();
    expect(l.handle({ type: "start" }, 0)).toEqual([{ type: "open", attempt: 1, broker: 0 }]);
    expect(l.nextDeadline()).toBe(30_000);
    l.handle({ type: "transport-up" }, 20);
    expect(l.nextDeadline()).toBeUndefined();
    l.handle({ type: "connected" }, 40);
    expect(l.state).toBe("connected");
  });

  test("a socket that neither connects nor fails is abandoned at the transport deadline and the backoff goes on", () => {
    const l = lifecycle();
    l.handle({ type: "start" }, 0);
    const now = l.nextDeadline()!;
    const a = l.handle({ type: "timer" }, now);
    expect(a).toEqual([{ type: "abandon", code: "timeout" }, { type: "wait", failures: 1, delayMs: 500 }]);
    expect(l.state).toBe("waiting");
    expect(l.handle({ type: "timer" }, l.nextDeadline()!)).toEqual([{ type: "open", attempt: 2, broker: 0 }]);
  });

  test("consecutive failures double the ceiling up to the cap; a stable connection starts the count over", () => {
    const l = lifecycle({ rng: () => 0.999_999 });
    let now = 0;
    l.handle({ type: "start" }, now);
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      const [w] = l.handle({ type: "lost" }, now);
      delays.push((w as { delayMs: number }).delayMs);
      now = l.nextDeadline()!;
      l.handle({ type: "timer" }, now);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    l.handle({ type: "transport-up" }, now);
    l.handle({ type: "connected" }, now);
    now += 30_000;
    expect(l.handle({ type: "lost" }, now)).toEqual([{ type: "wait", failures: 1, delayMs: 500 }]);
  });

  test("full jitter: the delay is uniform in [0, ceiling], so a broken rng cannot make it negative or NaN", () => {
    for (const r of [0, 0.5, NaN, -1, 1, 7]) {
      const l = lifecycle({ rng: () => r });
      l.handle({ type: "start" }, 0);
      const [w] = l.handle({ type: "lost" }, 0) as unknown as [{ delayMs: number }];
      expect(w.delayMs).toBeGreaterThanOrEqual(0);
      expect(w.delayMs).toBeLessThanOrEqual(500);
    }
  });

  test("with reconnect off a lost link stays down; after end nothing starts again", () => {
    const off = lifecycle({ reconnect: false });
    off.handle({ type: "start" }, 0);
    expect(off.handle({ type: "lost" }, 10)).toEqual([]);
    expect(off.nextDeadline()).toBeUndefined();
    const ended = lifecycle();
    ended.handle({ type: "start" }, 0);
    ended.handle({ type: "lost" }, 10);
    ended.handle({ type: "end" }, 20);
    expect(ended.nextDeadline()).toBeUndefined();
    for (const e of ["timer", "network-up", "lost", "start"] as const) expect(ended.handle({ type: e }, 1e6)).toEqual([]);
  });
});

describe("the network coming back", () => {
  test("a link waiting out its backoff starts over and opens now", () => {
    const l = lifecycle();
    l.handle({ type: "start" }, 0);
    for (let i = 0; i < 6; i++) {
      l.handle({ type: "lost" }, 0);
      l.handle({ type: "timer" }, l.nextDeadline()!);
    }
    l.handle({ type: "lost" }, 100_000);
    expect(l.failures).toBe(7);
    expect(l.handle({ type: "network-up" }, 100_001)).toEqual([{ type: "open", attempt: 8, broker: 0 }]);
    expect(l.failures).toBe(0);
  });

  test("an attempt begun during the outage and still in flight is abandoned and a fresh one opened at once", () => {
    const l = lifecycle();
    l.handle({ type: "start" }, 0);
    l.handle({ type: "lost" }, 1000); // WiFi went away
    l.handle({ type: "timer" }, l.nextDeadline()!); // attempt 2 begins with no network: its SYN is lost
    expect(l.state).toBe("opening");
    expect(l.handle({ type: "network-up" }, 5000)).toEqual([{ type: "abandon", code: "network-up" }, { type: "open", attempt: 3, broker: 0 }]);
    expect(l.nextDeadline()).toBe(35_000); // a full transport deadline for the fresh attempt
  });

  test("so does one whose socket is up but whose CONNACK has not come", () => {
    const l = lifecycle();
    l.handle({ type: "start" }, 0);
    l.handle({ type: "transport-up" }, 10);
    expect(kinds(l.handle({ type: "network-up" }, 5000))).toEqual(["abandon", "open"]);
  });

  test("a connected link is left alone", () => {
    const l = lifecycle();
    l.handle({ type: "start" }, 0);
    l.handle({ type: "transport-up" }, 10);
    l.handle({ type: "connected" }, 20);
    expect(l.handle({ type: "network-up" }, 5000)).toEqual([]);
    expect(l.state).toBe("connected");
  });
});

/**
 * A world on a fake clock: a broker behind a network that goes away once.
 * While it is away an attempt fails fast (no route, reset), hangs with its SYN
 * lost (only the transport deadline ends it), or gets a socket whose CONNECT
 * is lost (the session's CONNACK deadline ends it). While it is there an
 * attempt connects within 1..40 ms, then CONNACK within 1..40 ms.
 */
function outage(seed: number): { downAt: number; upAt: number; connectedAt: number; attempts: number } {
  const rng = seededRandom(seed);
  const between = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
  const CONNACK_TIMEOUT = 30_000;
  const link = new LinkLifecycle({
    initialDelayMs: 500,
    maxDelayMs: 30_000,
    stableAfterMs: 30_000,
    transportTimeoutMs: 30_000,
    rng: seededRandom(seed ^ 0x5eed),
  });
  const downAt = between(1000, 20_000);
  const upAt = downAt + between(50, 90_000);
  // the loss of the connection is noticed during the outage (reset, keepalive)
  const lostAt = between(downAt, Math.min(upAt, downAt + 20_000));
  const networkUp = (t: number) => t < downAt || t >= upAt;

  // events of the world: [time, event, attempt it belongs to (stale ones are ignored, as the client does)]
  let world: { at: number; event: LinkEvent; attempt: number }[] = [];
  let current = 0;
  let now = 0;
  let connectedAt = -1;
  let sawLoss = false;
  let steps = 0;

  const run = (actions: LinkAction[]) => {
    for (const a of actions) {
      if (a.type === "abandon") world = world.filter((w) => w.attempt !== current);
      if (a.type !== "open") continue;
      current = a.attempt;
      if (networkUp(now)) {
        const up = now + between(1, 40);
        world.push({ at: up, event: { type: "transport-up" }, attempt: current });
        world.push({ at: up + between(1, 40), event: { type: "connected" }, attempt: current });
      } else {
        const fate = rng();
        if (fate < 0.4) world.push({ at: now + between(0, 50), event: { type: "lost" }, attempt: current });
        else if (fate < 0.7) {
          const up = now + between(1, 40);
          world.push({ at: up, event: { type: "transport-up" }, attempt: current });
          world.push({ at: up + CONNACK_TIMEOUT, event: { type: "lost" }, attempt: current });
        } // else: the SYN is lost and nothing ever comes back
      }
    }
  };

  run(link.handle({ type: "start" }, now));
  world.push({ at: lostAt, event: { type: "lost" }, attempt: -1 });
  world.push({ at: upAt, event: { type: "network-up" }, attempt: -2 });
  while (steps++ < 10_000) {
    world.sort((a, b) => a.at - b.at);
    const next = world[0];
    const deadline = link.nextDeadline();
    if (next === undefined && deadline === undefined) break;
    if (deadline !== undefined && (next === undefined || deadline < next.at)) {
      now = deadline;
      run(link.handle({ type: "timer" }, now));
      continue;
    }
    world.shift();
    now = next.at;
    if (next.attempt === -1) {
      // the outage ends the connection made before it
      if (!sawLoss && link.state === "connected") run(link.handle({ type: "lost" }, now));
      sawLoss = true;
      continue;
    }
    if (next.attempt >= 0 && next.attempt !== current) continue;
    run(link.handle(next.event, now));
    if (link.state === "connected" && now >= upAt) {
      connectedAt = now;
      break;
    }
  }
  return { downAt, upAt, connectedAt, attempts: current };
}

describe("connected within 2 s of the network coming back, whatever the outage", () => {
  test("1,000 seeded outages (timing, length, fate of each attempt during it)", () => {
    const late: string[] = [];
    const after: number[] = [];
    for (let seed = 1; seed <= 1000; seed++) {
      const r = outage(seed);
      const delay = r.connectedAt - r.upAt;
      after.push(delay);
      if (r.connectedAt < 0 || delay > 2000) late.push(`seed ${seed}: down ${r.downAt} up ${r.upAt} connected ${r.connectedAt}`);
    }
    expect(late).toEqual([]);
    // the fake world answers a fresh attempt within 80 ms: nothing waits on a backoff or a deadline
    expect(Math.max(...after)).toBeLessThanOrEqual(80);
  });
});
