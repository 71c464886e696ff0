/**
 * The simulator's heap figure on the chip's terms (issue 17): for the default
 * program the status line gives the slot heap as the ESP32 would hold it
 * (host-shim/sim/chip-heap.ts), labelled as such, within a sane band of what
 * Moddable's runtime counts for the same program; a program whose image is not
 * known keeps xsnap's figure under its own label.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { startSimulation, type Simulation } from "../../host-shim/sim/simulation.js";
import { statusJson, statusLine } from "../../host-shim/sim/display.js";
import { bundleForXs, projectRoot } from "../../host-shim/xs/engine.js";

/** Moddable's live slot heap of the device program scaled to 16-byte slots, as `npm run bench -- moddable` last recorded it. */
function moddableSlotsEsp32(): number {
  const results = readFileSync(join(projectRoot(), "bench", "RESULTS.md"), "utf8");
  const m = /live_heap_after_boot_esp32[^\n]*slots_esp32 ([\d,]+)/.exec(results);
  if (m === null) throw new Error("bench/RESULTS.md has no live_heap_after_boot_esp32 row with slots_esp32 (npm run bench -- moddable)");
  return Number(m[1].replace(/,/g, ""));
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

describe("the simulator's heap figure", () => {
  test("the default program: ESP32 slots, estimated, near Moddable's figure and far below xsnap's", async () => {
    let sim: Simulation | undefined;
    try {
      sim = await startSimulation({ devices: 1, state: mkdtempSync(join(tmpdir(), "mote-chip-heap-")), pollMs: 500, observeSensor: false });
      const d = sim.devices[0];
      await until(() => d.status().device?.mqtt.state === "connected" && d.status().esp32SlotBytes !== undefined, 30_000);
      await new Promise((r) => setTimeout(r, 1500)); // a few telemetry messages, as the bench waits for them
      await d.poll();
      const s = d.status();
      expect(s.device?.mqtt.state).toBe("connected");
      const esp32 = s.esp32SlotBytes!;
      const moddable = moddableSlotsEsp32();
      // Measured 2026-12-05: 36.8 KB here (52 KB with the CoAP observer on) against Moddable's 25.8 KB (the estimate reads high:
      // chip-heap.ts). The band catches a figure that again counts the image or the built-ins
      // (xsnap's ~600 KB), or one that lost the program's own objects.
      expect(esp32).toBeGreaterThan(moddable * 0.5);
      expect(esp32).toBeLessThan(moddable * 3);
      expect(esp32).toBeLessThan(s.xsHeapBytes! / 4);
      expect(s.esp32SlotPeakBytes).toBeGreaterThanOrEqual(esp32);
      expect(statusLine(s)).toContain(` · esp32 slots≈${(esp32 / 1024).toFixed(0)}K · `);
      expect(statusLine(s)).not.toContain("xsnap heap");
      expect(statusJson(s)).toMatchObject({ esp32SlotBytes: esp32, xsHeapBytes: s.xsHeapBytes });
    } finally {
      await sim?.stop();
    }
  }, 60_000);

  test("a program whose image is not known: xsnap's own figure, named so", async () => {
    let sim: Simulation | undefined;
    try {
      sim = await startSimulation({
        devices: 1,
        state: mkdtempSync(join(tmpdir(), "mote-chip-heap-")),
        pollMs: 300,
        observeSensor: false,
        bundle: () => bundleForXs("test/xs/status-only-entry.ts"),
      });
      const d = sim.devices[0];
      await until(() => d.status().xsHeapBytes !== undefined, 10_000);
      const s = d.status();
      expect(s.esp32SlotBytes).toBeUndefined();
      expect(statusLine(s)).toContain(` · xsnap heap ${((s.xsHeapBytes ?? 0) / 1024).toFixed(0)}K · `);
    } finally {
      await sim?.stop();
    }
  }, 30_000);
});
