/**
 * XS tier, OTA through the device program: `cmd/ota` with a signed descriptor →
 * the agent downloads the image from the simulator's update server into the
 * inactive slot, verifies and switches → the program reboots → the simulator
 * boots the new slot's image → the health check (WiFi + MQTT up) keeps it.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulation, type Simulation } from "../../host-shim/sim/simulation.js";
import { bundleForXs } from "../../host-shim/xs/engine.js";
import { describeImage, signDescriptor } from "../../cli/ota-sign.js";
import { encodeDescriptor } from "../../src/ota/descriptor.js";
import { partitionState, runningPartition } from "../../host-shim/node/ota.js";
import { Observer } from "./device-observer.js";

const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const PEM = publicKey.export({ type: "spki", format: "pem" }) as string;
let sim: Simulation;
let observer: Observer;
let factory: string;
let base: string;
let state: string;
const log: string[] = [];

function run(): Promise<Simulation> {
  return startSimulation({
    state,
    bundle: factory,
    ota: { publicKey: PEM },
    telemetryMs: 500,
    observeSensor: false,
    pollMs: 250,
    onLog: (_device, line) => log.push(line),
  });
}

beforeAll(async () => {
  factory = await bundleForXs("src/app/main.ts");
  state = mkdtempSync(join(tmpdir(), "mote-sim-ota-"));
  sim = await run();
  observer = await Observer.connect(sim.brokerUrl, "#");
  const [s] = await sim.waitFor((s) => s[0].device?.healthy === true, 20_000);
  base = `mote/${s.device!.id}`;
}, 60_000);

afterAll(async () => {
  await observer?.close();
  await sim?.stop();
});

describe("OTA through the device program on XS", () => {
  test("the factory image runs as version 1.0.0", () => {
    expect(sim.status()[0].device!.version).toBe("1.0.0");
  });

  test("cmd/ota: download, verify, switch, reboot into the new slot, health check keeps it", async () => {
    const image = new TextEncoder().encode(`${factory}\n// mote 2.0.0\n`);
    sim.peers.updates.put("/fw/mote-2.0.0.js", image);
    const descriptor = signDescriptor(
      describeImage(image, { version: "2.0.0", board: "sim", urls: [`${sim.updatesUrl}/fw/mote-2.0.0.js`] }),
      privateKey,
    );
    await observer.publish(`${base}/cmd/ota`, encodeDescriptor(descriptor));
    await observer.until(
      () => observer.json<{ type: string }>(`${base}/reply/ota`).some((e) => e.type === "done" || e.type === "error"),
      "OTA outcome",
      60_000,
    );
    const events = observer.json<{ type: string; detail: string; reboot?: boolean }>(`${base}/reply/ota`);
    expect(events.find((e) => e.type === "error")).toBeUndefined();
    expect(events[events.length - 1]).toMatchObject({ type: "done", reboot: true });
    const [s] = await sim.waitFor((s) => s[0].boots === 2 && s[0].device?.healthy === true, 30_000);
    expect(s.device!.version).toBe("2.0.0");
    expect(runningPartition()).toBe("ota_1");
    await sim.waitFor(() => partitionState("ota_1") === "valid", 20_000);
    // the log tells the story: the new image booted pending, then was committed
    const pendingAt = log.findIndex((l) => /ota: booted v2\.0\.0 from ota_1, pending/.test(l));
    expect(pendingAt).toBeGreaterThanOrEqual(0);
    await sim.waitFor(() => log.some((l) => /ota: v2\.0\.0 committed/.test(l)), 20_000);
    expect(log.findIndex((l) => /ota: v2\.0\.0 committed/.test(l))).toBeGreaterThan(pendingAt);
    // and the status line shows the running version
    const { statusLine } = await import("../../host-shim/sim/display.js");
    expect(statusLine(sim.status()[0])).toContain(" v2.0.0 ·");
  }, 120_000);

  test("a descriptor signed by another key is refused and nothing changes", async () => {
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const image = new TextEncoder().encode(`${factory}\n// evil\n`);
    sim.peers.updates.put("/fw/evil.js", image);
    const d = signDescriptor(describeImage(image, { version: "3.0.0", board: "sim", urls: [`${sim.updatesUrl}/fw/evil.js`] }), other);
    const before = observer.on(`${base}/reply/ota`).length;
    await observer.publish(`${base}/cmd/ota`, encodeDescriptor(d));
    await observer.until(() => observer.on(`${base}/reply/ota`).length > before, "refusal", 20_000);
    const e = observer.json<{ type: string; code?: string }>(`${base}/reply/ota`).slice(before);
    expect(e[e.length - 1].type).toBe("error");
    expect(sim.status()[0].boots).toBe(2);
    expect(sim.status()[0].device!.version).toBe("2.0.0");
  }, 60_000);

  test("the next run with the same state folder boots the update, not the factory image again", async () => {
    await observer.close();
    await sim.stop();
    const before = log.length;
    sim = await run();
    const [s] = await sim.waitFor((s) => s[0].device?.healthy === true, 30_000);
    expect(s.device!.version).toBe("2.0.0");
    expect(runningPartition()).toBe("ota_1");
    expect(log.slice(before).some((l) => /flash: ota_0 holds this build already/.test(l))).toBe(true);
    expect(log.slice(before).some((l) => /boot: ota_1 v2\.0\.0/.test(l))).toBe(true);
    observer = await Observer.connect(sim.brokerUrl, "#");
  }, 90_000);
});
