/**
 * `mote sim --state DIR` boots the same devices every run: the folder keeps the
 * fleet name the device ids (MACs) are drawn from, so its per-device
 * preferences and flash — an OTA update installed in one run — are found again.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { stateFleet } from "../../host-shim/sim/args.js";
import { macFor } from "../../host-shim/sim/simulation.js";

test("a state folder keeps the fleet name of its first run; another folder gets its own", () => {
  const a = join(mkdtempSync(join(tmpdir(), "mote-fleet-")), "state-a");
  const b = join(mkdtempSync(join(tmpdir(), "mote-fleet-")), "state-b");
  expect(stateFleet(a, "host-101")).toBe("host-101");
  expect(stateFleet(a, "host-202")).toBe("host-101"); // the next run, another pid
  expect(readFileSync(join(a, "fleet"), "utf8").trim()).toBe("host-101");
  expect(stateFleet(b, "host-303")).toBe("host-303");
  expect(macFor(0, stateFleet(a, "host-404"))).toBe(macFor(0, "host-101"));
  expect(macFor(0, stateFleet(b, "host-505"))).not.toBe(macFor(0, stateFleet(a, "host-606")));
});
