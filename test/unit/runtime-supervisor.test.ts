import { describe, expect, test, vi } from "vitest";
import { SupervisorCore } from "../../src/runtime/supervisor-core.js";
import { Supervisor, type PartContext } from "../../src/runtime/supervisor.js";
import { FakeHost } from "./runtime-fakes.js";
import { MoteError } from "../../src/errors.js";

const fixed = { baseMs: 1000, maxMs: 8000, stableMs: 10_000, rng: () => 0.5 };

describe("SupervisorCore", () => {
  test("start starts every part; a failed part is stopped and restarted after its backoff", () => {
    const s = new SupervisorCore({ backoff: fixed });
    s.addPart("wifi");
    s.addPart("mqtt");
    let now = 0;
    expect(s.handle({ type: "start" }, now)).toEqual([
      { type: "start-part", part: "wifi" },
      { type: "start-part", part: "mqtt" },
    ]);
    s.handle({ type: "up", part: "wifi" }, now);
    const failed = s.handle({ type: "failed", part: "wifi", reason: "lost-link" }, (now = 100));
    expect(failed[0]).toEqual({ type: "stop-part", part: "wifi" });
    expect(s.state("wifi")).toBe("waiting");
    expect(s.nextDeadline()).toBe(600); // 0.5 * 1000
    expect(s.handle({ type: "timer" }, 599)).toEqual([]);
    now = s.nextDeadline()!;
    expect(s.handle({ type: "timer" }, now)).toEqual([{ type: "start-part", part: "wifi" }]);
    expect(s.nextDeadline()).toBeUndefined();
  });

  test("one part failing never stops or delays another", () => {
    const s = new SupervisorCore({ backoff: fixed });
    s.addPart("coap");
    s.addPart("mqtt");
    s.handle({ type: "start" }, 0);
    s.handle({ type: "up", part: "mqtt" }, 0);
    for (let i = 0; i < 5; i++) {
      const actions = s.handle({ type: "failed", part: "coap", reason: "timeout" }, i * 10_000);
      expect(actions.some((a) => a.type !== "log" && a.part === "mqtt")).toBe(false);
      s.handle({ type: "timer" }, s.nextDeadline()!);
    }
    expect(s.state("mqtt")).toBe("running");
    expect(s.health().mqtt.restarts).toBe(0);
    expect(s.health().coap.restarts).toBe(5);
    expect(s.health().coap.lastError).toBe("timeout");
  });

  test("repeated failures back off exponentially up to the cap", () => {
    const s = new SupervisorCore({ backoff: fixed });
    s.addPart("wifi");
    let now = 0;
    s.handle({ type: "start" }, now);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      s.handle({ type: "failed", part: "wifi", reason: "wrong-password" }, now);
      waits.push(s.nextDeadline()! - now);
      now = s.nextDeadline()!;
      s.handle({ type: "timer" }, now);
    }
    expect(waits).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
  });

  test("a stale failure (part already waiting) is ignored", () => {
    const s = new SupervisorCore({ backoff: fixed });
    s.addPart("mqtt");
    s.handle({ type: "start" }, 0);
    s.handle({ type: "failed", part: "mqtt", reason: "a" }, 0);
    expect(s.handle({ type: "failed", part: "mqtt", reason: "b" }, 1)).toEqual([]);
    expect(s.health().mqtt.restarts).toBe(1);
  });

  test("restart stops and starts a part at once and forgets its backoff", () => {
    const s = new SupervisorCore({ backoff: fixed });
    s.addPart("telemetry");
    s.handle({ type: "start" }, 0);
    const actions = s.handle({ type: "restart", part: "telemetry", reason: "period changed" }, 5);
    expect(actions.filter((a) => a.type !== "log")).toEqual([
      { type: "stop-part", part: "telemetry" },
      { type: "start-part", part: "telemetry" },
    ]);
  });

  test("stop stops running parts and cancels pending restarts", () => {
    const s = new SupervisorCore({ backoff: fixed });
    s.addPart("a");
    s.addPart("b");
    s.handle({ type: "start" }, 0);
    s.handle({ type: "failed", part: "a", reason: "x" }, 0);
    expect(s.handle({ type: "stop" }, 1)).toEqual([{ type: "stop-part", part: "b" }]);
    expect(s.nextDeadline()).toBeUndefined();
    expect(s.state("a")).toBe("stopped");
  });

  test("the number of parts is bounded and names are unique", () => {
    const s = new SupervisorCore({ backoff: fixed, maxParts: 2 });
    s.addPart("a");
    expect(() => s.addPart("a")).toThrow(MoteError);
    s.addPart("b");
    expect(() => s.addPart("c")).toThrow(/too-many-parts/);
    expect(() => s.handle({ type: "up", part: "nope" }, 0)).toThrow(/unknown-part/);
  });
});

describe("Supervisor binding", () => {
  test("a part that throws in start is restarted with backoff; the others keep running", () => {
    const host = new FakeHost();
    const sup = new Supervisor(host, { backoff: { baseMs: 1000, maxMs: 1000, rng: () => 0.5 } });
    let attempts = 0;
    let ok = 0;
    sup.add("flaky", {
      start: () => {
        attempts++;
        throw new Error("boom");
      },
      stop: () => {},
    });
    sup.add("steady", { start: (ctx) => (ok++, ctx.up()), stop: () => {} });
    sup.start();
    expect(attempts).toBe(1);
    expect(sup.health().flaky.state).toBe("waiting");
    expect(sup.health().flaky.lastError).toContain("boom");
    host.advance(10_000);
    expect(attempts).toBe(21); // every 500 ms, never faster
    expect(ok).toBe(1);
    expect(sup.health().steady.state).toBe("running");
  });

  test("a report from a previous run of a part is dropped", () => {
    const host = new FakeHost();
    const sup = new Supervisor(host, { backoff: { baseMs: 100, maxMs: 100, rng: () => 0 , minMs: 10} });
    const contexts: PartContext[] = [];
    let stops = 0;
    sup.add("mqtt", { start: (ctx) => contexts.push(ctx), stop: () => stops++ });
    sup.start();
    contexts[0].fail("reset");
    host.advance(10);
    expect(contexts.length).toBe(2);
    expect(contexts[0].alive).toBe(false);
    contexts[0].fail("late error from the old socket");
    expect(sup.health().mqtt.state).toBe("starting");
    expect(stops).toBe(1);
    contexts[1].up();
    expect(sup.health().mqtt.state).toBe("running");
  });

  test("a synchronous up() from start is handled after start returns", () => {
    const host = new FakeHost();
    const sup = new Supervisor(host, {});
    sup.add("x", { start: (ctx) => ctx.up(), stop: () => {} });
    sup.start();
    expect(sup.health().x.state).toBe("running");
  });

  test("up() reaches the core once per start (a part may call it per message); after a restart, once again", () => {
    const host = new FakeHost();
    const sup = new Supervisor(host, { backoff: { baseMs: 100, maxMs: 100, rng: () => 0.5 } });
    const handle = vi.spyOn(SupervisorCore.prototype, "handle");
    let ctx: PartContext | undefined;
    sup.add("x", { start: (c) => void (ctx = c), stop: () => {} });
    sup.start();
    for (let i = 0; i < 100; i++) ctx!.up();
    expect(handle.mock.calls.filter(([e]) => e.type === "up").length).toBe(1);
    expect(sup.health().x.state).toBe("running");
    const first = ctx!;
    first.fail("gone");
    host.advance(200);
    expect(ctx).not.toBe(first);
    first.up(); // the old start's context: stale, not heard
    ctx!.up();
    ctx!.up();
    expect(handle.mock.calls.filter(([e]) => e.type === "up").length).toBe(2);
    expect(sup.health().x.state).toBe("running");
    handle.mockRestore();
  });

  test("close disarms the alarm: nothing runs afterwards", () => {
    const host = new FakeHost();
    const sup = new Supervisor(host, { backoff: { baseMs: 100, rng: () => 0.5 } });
    let starts = 0;
    sup.add("x", { start: (ctx) => (starts++, ctx.fail("no")), stop: () => {} });
    sup.start();
    sup.close();
    host.advance(60_000);
    expect(starts).toBe(1);
    expect(host.pending).toBe(0);
  });
});
