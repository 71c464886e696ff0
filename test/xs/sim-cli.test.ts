/**
 * `mote sim` end to end (in-process, output captured): --json status records,
 * --for exit status, --fault from the command line, a fleet with distinct ids.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../cli/sim.js";
import { hostMemory } from "../../host-shim/sim/memory.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, "write").mockImplementation((chunk: unknown) => (out.push(String(chunk)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown) => (err.push(String(chunk)), true));
  return {
    out,
    err,
    restore() {
      o.mockRestore();
      e.mockRestore();
    },
    json(): Record<string, any>[] {
      return out.join("").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    },
  };
}

const state = () => mkdtempSync(join(tmpdir(), "mote-cli-"));
let restore: (() => void) | undefined;
afterEach(() => restore?.());

describe("mote sim", () => {
  test("--json --for prints status objects and exits 0 when the device ended healthy", async () => {
    const c = capture();
    restore = c.restore;
    const code = await main(["--json", "--for", "6", "--telemetry", "500", "--state", state()]);
    c.restore();
    const records = c.json();
    const statuses = records.filter((r) => r.devices);
    expect(statuses.length).toBeGreaterThanOrEqual(3);
    const last = statuses[statuses.length - 1].devices[0];
    expect(last).toMatchObject({ healthy: true, state: "running", wifi: { state: "up" }, mqtt: { state: "connected" } });
    expect(last.counters.telemetrySent).toBeGreaterThan(0);
    expect(last.xsHeapBytes).toBeGreaterThan(0);
    expect(records[records.length - 1].summary).toMatchObject({ healthy: true, devices: 1, healthyDevices: 1 });
    expect(code).toBe(0);
  }, 60_000);

  test("a device that ends unhealthy (WiFi gone) makes --for exit 1", async () => {
    const c = capture();
    restore = c.restore;
    const code = await main(["--json", "--for", "4", "--fault", "wifi-drop@1s+60s", "--state", state()]);
    c.restore();
    const statuses = c.json().filter((r) => r.devices);
    expect(statuses[statuses.length - 1].devices[0].healthy).toBe(false);
    expect(code).toBe(1);
  }, 60_000);

  test("bad arguments: exit 2 with one line naming the error", async () => {
    const c = capture();
    restore = c.restore;
    const code = await main(["--fault", "meteor@3s"]);
    c.restore();
    expect(code).toBe(2);
    expect(c.err.join("")).toMatch(/^mote: invalid-fault: .*meteor/);
  });

  test("--devices 3: distinct client ids, all healthy, memory per device reported, nothing left running", async () => {
    const c = capture();
    restore = c.restore;
    const code = await main(["--json", "--for", "6", "--devices", "3", "--state", state()]);
    c.restore();
    const statuses = c.json().filter((r) => r.devices);
    const last = statuses[statuses.length - 1].devices as { id: string; healthy: boolean }[];
    expect(new Set(last.map((d) => d.id)).size).toBe(3);
    expect(last.every((d) => d.healthy)).toBe(true);
    const summary = c.json().find((r) => r.summary)!.summary;
    expect(summary.memoryPerDeviceBytes).toBeGreaterThan(0);
    expect(code).toBe(0);
    expect(hostMemory().children).toBe(0); // every XS worker is gone
  }, 90_000);
});
