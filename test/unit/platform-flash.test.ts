import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, test } from "vitest";
import { configureFlash } from "../../host-shim/node/flash.js";
import { nextUpdatePartition, provisionSim, runningPartition, simulateBoot } from "../../host-shim/node/ota.js";
import { openFlash } from "../../src/platform/flash.js";

describe("flash partitions as Moddable's esp32 flash module names them", () => {
  beforeEach(() => {
    configureFlash({
      dir: mkdtempSync(join(tmpdir(), "mote-flash-")),
      partitions: { otadata: 8192, ota_0: 64 * 1024, ota_1: 64 * 1024, xs: 64 * 1024 },
    });
    provisionSim({ image: new Uint8Array(5000).fill(7), version: "1.0.0" });
    simulateBoot();
  });

  test("an app slot cannot be opened by its label, as on the device (labels are looked up among data partitions)", () => {
    expect(() => openFlash(runningPartition())).toThrow(expect.objectContaining({ code: "no-partition" }));
    expect(() => openFlash(nextUpdatePartition())).toThrow(expect.objectContaining({ code: "no-partition" }));
  });

  test('"running" is the booted slot and "nextota" the other one', () => {
    expect(Array.from(openFlash("running").read(0, 4))).toEqual([7, 7, 7, 7]);
    const next = openFlash("nextota");
    expect(next.byteLength).toBe(64 * 1024);
    expect(Array.from(next.read(0, 4))).toEqual([0xff, 0xff, 0xff, 0xff]);
  });

  test("data partitions and the mod partition open by name", () => {
    expect(openFlash("xs").byteLength).toBe(64 * 1024);
    expect(openFlash("otadata").byteLength).toBe(8192);
  });
});
