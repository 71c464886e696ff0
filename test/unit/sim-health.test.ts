import { describe, expect, test } from "vitest";
import { isHealthy, type SimDeviceStatus } from "../../host-shim/sim/device.js";

const base: SimDeviceStatus = {
  index: 0,
  name: "mote-sim-0",
  state: "running",
  boots: 1,
  device: undefined,
  xsHeapBytes: undefined,
  xsHeapPeakBytes: 0,
  lastError: undefined,
};

describe("a simulated device's health (mote sim --for exits 0 iff every device is healthy)", () => {
  test("the default program's own verdict decides when it reports a status", () => {
    expect(isHealthy({ ...base, device: { healthy: true } as never })).toBe(true);
    expect(isHealthy({ ...base, device: { healthy: false } as never })).toBe(false);
  });

  test("an app that reports no status is healthy while its engine runs without an error", () => {
    expect(isHealthy(base)).toBe(true);
    expect(isHealthy({ ...base, lastError: "TypeError: x is undefined" })).toBe(false);
    expect(isHealthy({ ...base, state: "booting" })).toBe(false);
    expect(isHealthy({ ...base, state: "stopped" })).toBe(false);
  });
});
