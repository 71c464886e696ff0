/**
 * The bench frame: `npm run bench -- <group> --json` prints one JSON figure
 * per line in the DESIGN.md §8 shape; bench/lib.ts timing stays bounded.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { measure } from "../../bench/lib.js";
import { run } from "../helpers/run.js";

const root = join(__dirname, "..", "..");

describe("bench frame", () => {
  test("--json prints one figure per line with bench, metric, unit, mote, peer, peer_value, ratio", async () => {
    const r = await run(process.execPath, ["bench/run.mjs", "device", "--json"], { cwd: root, timeoutMs: 120_000 });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      const f = JSON.parse(line);
      expect(f.bench).toBe("device");
      expect(typeof f.metric).toBe("string");
      expect(f.unit).toBe("bytes");
      expect(f.mote).toBeGreaterThan(0);
      expect(f).toHaveProperty("peer");
      expect(f).toHaveProperty("peer_value");
      expect(f).toHaveProperty("ratio");
      if (f.peer !== null) expect(f.ratio).toBeCloseTo(f.peer_value / f.mote, 6);
    }
  }, 120_000);

  test("an unknown group fails with a message naming the groups", () => {
    const r = spawnSync(process.execPath, ["bench/run.mjs", "no-such-group"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no bench\/no-such-group\.ts \(groups: .*device/);
  }, 60_000);

  test("measure() warms up, runs at least minMs and stops at maxOps", () => {
    let calls = 0;
    const t = measure(() => calls++, { warmup: 5, minMs: 20, maxOps: 1_000 });
    expect(t.ops).toBeLessThanOrEqual(1_000 + 1_024);
    expect(calls).toBe(t.ops + 5);
    expect(t.opsPerSec).toBeCloseTo((t.ops / t.ms) * 1000, 6);
    const slow = measure(() => {
      const end = performance.now() + 1;
      while (performance.now() < end) {
        /* 1 ms of work */
      }
    }, { warmup: 0, minMs: 30 });
    expect(slow.ms).toBeGreaterThanOrEqual(30);
  });
});
