/**
 * Wall-clock time as a supervised part of the device program
 * (src/runtime/time-sync.ts in src/app/device.ts), on a fake clock: asked once
 * WiFi has an address, never in the way of MQTT or telemetry, its failure
 * reported and retried with a backoff no shorter than RFC 4330's 15 s.
 */
import { describe, expect, test } from "vitest";
import { startRig } from "./app-harness.js";
import type { TimeResult, TimeSource } from "../../src/runtime/time-sync.js";

class FakeTimeSource implements TimeSource {
  readonly pending: ((r: TimeResult) => void)[] = [];
  queries = 0;
  cancelled = 0;
  query(callback: (r: TimeResult) => void): { cancel(): void } {
    this.queries++;
    this.pending.push(callback);
    return { cancel: () => void this.cancelled++ };
  }
  answer(r: TimeResult): void {
    const cb = this.pending.shift();
    if (cb === undefined) throw new Error("no query pending");
    cb(r);
  }
}

const SYNCED = { unixMs: Date.UTC(2026, 11, 4, 17, 0, 0), delayMs: 12, stratum: 2, address: "10.0.0.2" };

function rig(resyncMs?: number) {
  const source = new FakeTimeSource();
  const clock: number[] = [];
  const r = startRig({}, { extra: { time: { source, server: "10.0.0.2", setClock: (ms) => void clock.push(ms), resyncMs } } });
  return { ...r, source, clock };
}

describe("time part", () => {
  test("waits for an address, then asks once; MQTT opens at the same moment without waiting for the answer", () => {
    const r = rig();
    expect(r.source.queries).toBe(0);
    expect(r.app.status().time).toMatchObject({ state: "waiting-wifi", server: "10.0.0.2", syncs: 0 });
    r.wifi.up();
    expect(r.source.queries).toBe(1);
    expect(r.links).toHaveLength(1); // the broker link did not wait for the time
    r.link().connect();
    r.host.advance(1000);
    expect(r.app.status().counters.telemetrySent).toBeGreaterThan(0); // nor does telemetry
    expect(r.app.status().time?.state).toBe("querying");
  });

  test("an answer sets the clock, is logged, and the part runs; it asks again after resyncMs", () => {
    const r = rig(60_000);
    r.wifi.up();
    r.source.answer(SYNCED);
    expect(r.clock).toEqual([SYNCED.unixMs]);
    expect(r.app.status().time).toMatchObject({ state: "synced", syncedAt: SYNCED.unixMs, syncs: 1, error: undefined });
    expect(r.app.status().parts.time.state).toBe("running");
    expect(r.host.logs.some((l) => l.startsWith("info app: time set from 10.0.0.2"))).toBe(true);
    r.host.advance(59_999);
    expect(r.source.queries).toBe(1);
    r.host.advance(1);
    expect(r.source.queries).toBe(2);
  });

  test("a failure is reported in status and log, and retried no sooner than 15 s, later and later", () => {
    const r = rig();
    r.wifi.up();
    const retries: number[] = [];
    for (let i = 0; i < 4; i++) {
      const failedAt = r.host.time;
      r.source.answer({ error: "timeout" });
      const s = r.app.status();
      expect(s.time).toMatchObject({ state: "failed", error: "timeout", syncs: 0 });
      expect(s.parts.time).toMatchObject({ state: "waiting", lastError: "timeout", restarts: i + 1 });
      const retryAt = s.parts.time.retryAt!;
      expect(retryAt - failedAt).toBeGreaterThanOrEqual(15_000);
      retries.push(retryAt - failedAt);
      r.host.advance(retryAt - r.host.time - 1);
      expect(r.source.queries).toBe(i + 1); // not before its time
      r.host.advance(1);
      expect(r.source.queries).toBe(i + 2);
    }
    expect(r.host.logs.filter((l) => l.includes("time: sync with 10.0.0.2 failed (timeout)"))).toHaveLength(4);
    expect(r.host.logs.some((l) => l.includes("supervisor: time failed (timeout); restart in"))).toBe(true);
    expect(r.app.status().mqtt.state).toBe("connecting"); // MQTT carried on meanwhile
  });

  test("a failed attempt while WiFi is down waits for the next address before asking again", () => {
    const r = rig();
    r.wifi.up();
    r.wifi.down("lost-link");
    r.source.answer({ error: "timeout" });
    r.host.advance(16 * 60_000); // past any backoff: the part restarts, but has no network
    expect(r.source.queries).toBe(1);
    expect(r.app.status().time?.state).toBe("waiting-wifi");
    r.wifi.up(); // the WiFi part restarted meanwhile (its own backoff); the station reports an address
    expect(r.source.queries).toBe(2);
    r.source.answer(SYNCED);
    expect(r.app.status().time?.state).toBe("synced");
  });

  test("without a time source there is no time part", () => {
    const r = startRig();
    r.wifi.up();
    expect(r.app.status().time).toBeUndefined();
    expect(r.app.status().parts.time).toBeUndefined();
  });
});
