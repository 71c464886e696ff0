import { existsSync } from "node:fs";
import { openHandleCount } from "../../host-shim/node/hardware.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bundleForXs, startXs, type XsEngine } from "../../host-shim/xs/engine.js";

/** A host module only this test serves, to drive the generic bridge. */
class Counter {
  value = 0;
  closed = false;
  #timer: NodeJS.Timeout | undefined;
  constructor(private readonly options: { step: number; onChange(this: Counter, v: number): void }) {}
  start(times: number): void {
    let left = times;
    this.#timer = setInterval(() => {
      if (this.closed || left-- <= 0) return;
      this.value += this.options.step;
      this.options.onChange.call(this, this.value);
    }, 1);
  }
  close(): void {
    this.closed = true;
    clearInterval(this.#timer);
    openCounters.delete(this);
  }
}
const openCounters = new Set<Counter>();
class Named {
  constructor(public label: string) {}
}
const probe = {
  default: {
    Counter: class extends Counter {
      constructor(o: ConstructorParameters<typeof Counter>[0]) {
        super(o);
        openCounters.add(this);
      }
    },
    echo: (v: unknown) => v,
    fail(code: string): never {
      throw Object.assign(new Error(`${code}: it failed`), { name: "MoteError", code });
    },
    isClosed: (c: Counter) => c.closed,
    make: (label: string) => new Named(label),
    same: (n: Named) => n,
    nameOf: (n: Named) => n.label,
    inc: (i: number) => i + 1,
  },
};

/** Moddable-shaped timer, used only while host-shim/node/timer.ts does not exist yet. */
const liveTimers = new Set<NodeJS.Timeout>();
class TimerHandle {
  t?: NodeJS.Timeout;
}
const testTimer = {
  default: class Timer {
    static set(cb: (id: unknown) => void, ms = 0, repeat?: number) {
      const h = new TimerHandle(); // a class instance crosses as a handle (plain objects are copied)
      h.t = setTimeout(function tick() {
        if (repeat) {
          h.t = setTimeout(tick, repeat);
          liveTimers.add(h.t);
        } else liveTimers.delete(h.t!);
        cb(h);
      }, ms);
      liveTimers.add(h.t);
      return h;
    }
    static repeat(cb: (id: unknown) => void, ms: number) {
      return Timer.set(cb, ms, ms);
    }
    static clear(h: { t?: NodeJS.Timeout } | undefined) {
      if (h?.t) {
        clearTimeout(h.t);
        liveTimers.delete(h.t);
      }
    }
  },
};
const realTimer = existsSync(new URL("../../host-shim/node/timer.ts", import.meta.url));

let xs: XsEngine;
beforeAll(async () => {
  const bundle = await bundleForXs("test/xs/bridge-entry.ts", { hostModules: ["mote:test/probe", "mote:test/missing"] });
  xs = await startXs({
    bundle,
    stdio: "ignore",
    hostModules: { "mote:test/probe": probe, ...(realTimer ? {} : { timer: testTimer }) },
  });
});
afterAll(async () => {
  await xs?.close();
});

describe("the XS bridge", () => {
  test("a call runs a global function inside XS and returns its result", async () => {
    expect(await xs.call("add", { x: 2, y: 40 })).toBe(42);
  });

  test("values cross both ways intact: JSON, undefined, special numbers, bytes with extra properties", async () => {
    const packet = new Uint8Array([1, 2, 3]).buffer as ArrayBuffer & { address?: string; port?: number };
    packet.address = "127.0.0.1";
    packet.port = 5683;
    const value = { s: "häx", n: -0, inf: -Infinity, nan: NaN, u: undefined, list: [1, null, "x"], nested: { $$: "not a tag" }, big: 12n, bytes: new Uint8Array([9, 8, 7]), packet };
    const back = (await xs.call("echoThroughHost", value)) as typeof value;
    expect(back.s).toBe("häx");
    expect(Object.is(back.n, -0)).toBe(true);
    expect(back.inf).toBe(-Infinity);
    expect(back.nan).toBeNaN();
    expect("u" in back && back.u === undefined).toBe(true);
    expect(back.list).toEqual([1, null, "x"]);
    expect(back.nested).toEqual({ $$: "not a tag" });
    expect(back.big).toBe(12n);
    expect(back.bytes).toEqual(new Uint8Array([9, 8, 7]));
    expect(new Uint8Array(back.packet)).toEqual(new Uint8Array([1, 2, 3]));
    expect([back.packet.address, back.packet.port]).toEqual(["127.0.0.1", 5683]);
  });

  test("a typed array view arrives as a Uint8Array of just its bytes", async () => {
    const big = new Uint8Array(1000).map((_, i) => i & 0xff);
    const view = big.subarray(10, 20);
    expect(await xs.call("bytesSummary", { data: view, buffer: big.buffer })).toEqual({
      isU8: true,
      length: 10,
      first: 10,
      last: 19,
      bufferIsAB: true,
      bufferLength: 1000,
    });
  });

  test("an exception thrown in XS rejects the call with its message and code", async () => {
    await expect(xs.call("throwInXs")).rejects.toMatchObject({ name: "MoteError", code: "bad-argument" });
    await expect(xs.call("rejectInXs")).rejects.toThrow("async boom");
    await expect(xs.call("noSuchFunction")).rejects.toThrow(/no global function/);
  });

  test("an exception thrown by a Node twin is re-thrown in XS, as a MoteError when it is one", async () => {
    expect(await xs.call("hostError")).toEqual({ name: "MoteError", message: "bad-thing: it failed", code: "bad-thing", isMoteError: true });
  });

  test("callbacks passed at construction are called back in order with this = the host object", async () => {
    const r = (await xs.call("counterEvents")) as { seen: unknown[]; closedFlag: boolean };
    expect(r.seen).toEqual([
      { value: 2, thisIsCounter: true, viaThisIsLive: true },
      { value: 4, thisIsCounter: true, viaThisIsLive: true },
      { value: 6, thisIsCounter: true, viaThisIsLive: true },
    ]);
    expect(r.closedFlag).toBe(true);
  });

  test("the same host object is the same proxy in XS; getters, setters and `in` reach the Node object", async () => {
    expect(await xs.call("handleIdentity")).toEqual({ sameProxy: true, names: ["a", "b"], labelGetter: "a", hasLabel: true, hasMissing: false });
    expect(await xs.call("setProperty")).toBe("renamed");
  });

  test("a host module with no Node twin loads, and throws MoteError unavailable when used", async () => {
    expect(await xs.call("missingModule")).toBe("unavailable");
  });

  test("time is local to XS and monotonic", async () => {
    expect(await xs.call("ticks")).toEqual({ monotonic: true, type: "number", x: true });
  });

  test("1,000 timers all fire, none before its deadline", async () => {
    expect(await xs.call("timers", { count: 1000 })).toEqual({ fired: 1000, early: 0 });
  });

  test("fired timers leave nothing behind: bridge tables empty, heap back where it was", async () => {
    await xs.call("timers", { count: 100 });
    const base = (await xs.meters()).heapBytes;
    const tablesBefore = await xs.call("__bridgeStats");
    const openBefore = xs.stats().open;
    await xs.call("timers", { count: 2000 });
    const after = (await xs.meters()).heapBytes;
    expect(await xs.call("__bridgeStats")).toEqual(tablesBefore);
    expect(xs.stats().open).toBe(openBefore);
    expect(after).toBeLessThan(base * 1.05);
  });

  test("a repeating timer cleared from its own callback stops", async () => {
    expect(await xs.call("repeatingTimerThenClear")).toBe(3);
  });

  test("host calls from XS are synchronous round trips", async () => {
    const before = xs.stats().requests;
    expect(await xs.call("roundTrips", { n: 200 })).toBe((200 * 201) / 2);
    expect(xs.stats().requests - before).toBeGreaterThanOrEqual(200);
  });

  test("meters report the XS heap after a gc", async () => {
    const m = await xs.meters();
    expect(m.heapBytes).toBeGreaterThan(10_000);
    expect(m.allocate).toBeGreaterThan(m.heapBytes / 2);
  });
});

describe("closing the engine", () => {
  test("closes what XS left open and rejects later calls", async () => {
    const bundle = await bundleForXs("test/xs/bridge-entry.ts", { hostModules: ["mote:test/probe", "mote:test/missing"] });
    const engine = await startXs({ bundle, stdio: "ignore", hostModules: { "mote:test/probe": probe, ...(realTimer ? {} : { timer: testTimer }) } });
    const liveBefore = liveTimers.size;
    const countersBefore = openCounters.size;
    const handlesBefore = openHandleCount();
    expect(await engine.call("leaveOpen")).toBe("left open");
    expect(openCounters.size).toBe(countersBefore + 1);
    expect(engine.stats().open).toBeGreaterThanOrEqual(2);
    await engine.close();
    expect(openCounters.size).toBe(countersBefore);
    // The repeating timer it left is cleared too (the twins count their open handles).
    if (realTimer) expect(openHandleCount()).toBe(handlesBefore);
    else expect(liveTimers.size).toBe(liveBefore);
    await expect(engine.call("add", { x: 1, y: 1 })).rejects.toMatchObject({ code: "closed" });
  });
});

describe("a runaway loop in XS", () => {
  test("with a compute limit, ends the engine with an error instead of hanging", async () => {
    const bundle = await bundleForXs("test/xs/bridge-entry.ts", { hostModules: ["mote:test/probe", "mote:test/missing"] });
    const engine = await startXs({ bundle, stdio: "ignore", computeLimit: 50_000_000, hostModules: { "mote:test/probe": probe, ...(realTimer ? {} : { timer: testTimer }) } });
    await expect(engine.call("spin")).rejects.toThrow(/exited/);
    await engine.close();
  });
});

describe("a bundle that throws while loading", () => {
  test("makes startXs reject with the XS exception", async () => {
    await expect(startXs({ bundle: 'throw new Error("boom at load")', stdio: "ignore" })).rejects.toThrow(/boom at load/);
    await expect(startXs({ bundle: "this is not JavaScript", stdio: "ignore" })).rejects.toThrow(/uncaught exception in XS/);
  });
});
