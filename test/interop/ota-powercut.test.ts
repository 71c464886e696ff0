/**
 * Power cut at 100 points spread over erase, download/write, switch, first
 * boot and commit (seeded): after power returns the simulated bootloader
 * must always start a complete, signed image (v1 or v2, byte for byte), and
 * a later update must still succeed.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test, vi } from "vitest";

vi.mock("mote/ota-boot", async () => await import("../../host-shim/node/ota-boot.js"));

import { startOtaServer, type OtaServer } from "../../cli/ota-serve.js";
import { armPowerCut, flashOperations, PowerCutError, restorePower } from "../../host-shim/node/flash.js";
import { markValid, provisionSim, simulateBoot } from "../../host-shim/node/ota.js";
import { encodeDescriptor } from "../../src/ota/descriptor.js";
import { freshBoard, makeAgent, makeImage, publish, runUpdate } from "./ota-helpers.js";

const V1 = makeImage(30_000, 21);
const V2 = makeImage(90_000, 22);
const V3 = makeImage(20_000, 23);
const IMAGES: Record<string, Uint8Array> = { "1.0.0": V1, "2.0.0": V2, "3.0.0": V3 };
let www: string;
let server: OtaServer;
let v2: string;
let v3: string;

beforeAll(async () => {
  www = mkdtempSync(join(tmpdir(), "mote-ota-cut-www-"));
  server = await startOtaServer({ dir: www });
  v2 = encodeDescriptor(publish(www, "app-2.0.0.bin", V2, { version: "2.0.0", baseUrl: server.url }));
  v3 = encodeDescriptor(publish(www, "app-3.0.0.bin", V3, { version: "3.0.0", baseUrl: server.url }));
});
afterAll(() => server.close());

function swallowPowerCut(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof PowerCutError) return false;
    throw e;
  }
}

/** Update to `payload`, reboot into it, and let its health check pass — every flash op of that counted. */
async function updateBootCommit(running: string, payload: string): Promise<{ done: boolean; marks: number[] }> {
  const start = flashOperations();
  const events = await runUpdate(makeAgent({ runningVersion: running }), payload);
  const marks = [flashOperations() - start];
  if (events.at(-1)?.type !== "done") return { done: false, marks };
  if (!swallowPowerCut(() => simulateBoot())) return { done: false, marks };
  marks.push(flashOperations() - start);
  if (!swallowPowerCut(() => markValid())) return { done: false, marks };
  marks.push(flashOperations() - start);
  return { done: true, marks };
}

function fresh(): void {
  freshBoard(96 * 1024);
  provisionSim({ image: V1, version: "1.0.0" });
  expect(simulateBoot().version).toBe("1.0.0");
}

test("100 seeded power cuts: the device always boots a valid signed image and a later update still succeeds", async () => {
  fresh();
  const baseline = await updateBootCommit("1.0.0", v2);
  expect(baseline.done).toBe(true);
  const [afterSwitch, afterBoot, total] = baseline.marks;
  expect(total).toBeGreaterThan(45);

  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
  const outcomes = { v1: 0, v2: 0, phases: { update: 0, "first-boot": 0, commit: 0 } };
  for (let i = 0; i < 100; i++) {
    fresh();
    // stratified: one cut in each hundredth of the operation sequence, jittered
    const cut = Math.min(total - 1, Math.floor(((i + random()) * total) / 100));
    outcomes.phases[cut < afterSwitch ? "update" : cut < afterBoot ? "first-boot" : "commit"]++;
    armPowerCut(cut);
    await updateBootCommit("1.0.0", v2);
    restorePower();

    const boot = simulateBoot();
    expect(boot.slot, `cut at op ${cut}`).toBeDefined();
    expect(["1.0.0", "2.0.0"]).toContain(boot.version);
    expect(boot.image, `cut at op ${cut}: booted bytes are exactly the signed ${boot.version}`).toEqual(IMAGES[boot.version!]);
    outcomes[boot.version === "1.0.0" ? "v1" : "v2"]++;
    markValid();

    const later = await updateBootCommit(boot.version!, v3);
    expect(later.done, `later update after cut at op ${cut}`).toBe(true);
    const final = simulateBoot();
    expect([final.version, final.state]).toEqual(["3.0.0", "valid"]);
    expect(final.image).toEqual(V3);
  }
  // the cuts really were spread over every phase, and both outcomes happened
  expect(outcomes.phases.update).toBeGreaterThan(50);
  expect(outcomes.phases["first-boot"]).toBeGreaterThan(0);
  expect(outcomes.phases.commit).toBeGreaterThan(0);
  expect(outcomes.v1).toBeGreaterThan(0);
  expect(outcomes.v2).toBeGreaterThan(0);
}, 60_000);
