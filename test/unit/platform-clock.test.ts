import { describe, expect, test, vi } from "vitest";

// A host clock the test moves by hand: ESP32's Time.ticks is a 32-bit millisecond counter.
const host = { ticks: 0 };
vi.mock("time", () => ({ default: { get ticks() { return host.ticks; } } }));

describe("now() over a 32-bit tick counter", () => {
  test("keeps counting up across the 49.7-day wrap", async () => {
    const { now } = await import("../../src/platform/clock.js");
    host.ticks = 0xffff_ff00;
    const before = now();
    host.ticks = 0x0000_0100; // wrapped: 512 ms later
    const after = now();
    expect(after - before).toBe(512);
    host.ticks = 0x0000_0200;
    expect(now() - after).toBe(256);
  });

  test("a counter that does not wrap is passed through", async () => {
    const { now } = await import("../../src/platform/clock.js");
    host.ticks = 0x0000_0300;
    const a = now();
    host.ticks = 0x0000_0400;
    expect(now() - a).toBe(256);
  });
});
