/**
 * Moddable tier, OTA: the device program built by the real `mcconfig -p lin` takes a
 * signed descriptor on `cmd/ota`, streams the image from `mote ota serve` over
 * Moddable's own TCP into the inactive slot (boards/desktop/flash.js: a NOR file),
 * checks the signature (P-256 on XS) and the SHA-256, switches (mote/ota-boot),
 * restarts, and the next boot's health check keeps the new slot. A descriptor signed
 * by another key is refused and changes nothing.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPairSync } from "node:crypto";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { describeImage, signDescriptor } from "../../cli/ota-sign.js";
import { startOtaServer, type OtaServer } from "../../cli/ota-serve.js";
import { buildModdable } from "../../host-shim/moddable/build.js";
import { ModdableDevice, writePreferences } from "../../host-shim/moddable/run.js";
import { findModdable, moddableMissing, type ModdableSdk } from "../../host-shim/moddable/sdk.js";
import { encodeDescriptor } from "../../src/ota/descriptor.js";
import { makeImage, PUBLIC_KEY, publish } from "../interop/ota-helpers.js";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";

const skip = moddableMissing();
const ID = "lin-ota-1";
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe.skipIf(skip !== undefined)("OTA on Moddable's runtime (mcconfig -p lin)", () => {
  let sdk: ModdableSdk;
  let broker: Mosquitto;
  let server: OtaServer;
  let observer: MqttClient;
  let device: ModdableDevice;
  let dir: string;
  let files: string;
  const replies: { type: string; detail?: string; code?: string; reboot?: boolean }[] = [];
  let online = false;
  const bootState = () => JSON.parse(readFileSync(join(dir, "mote-boot.json"), "utf8")) as { running: string; states: Record<string, string> };

  async function until(cond: () => boolean, what: string, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms; device said:\n${device.lines.slice(-25).join("\n")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    sdk = findModdable() as ModdableSdk;
    const so = await buildModdable("device", sdk);
    broker = await startMosquitto();
    files = mkdtempSync(join(tmpdir(), "mote-lin-ota-files-"));
    server = await startOtaServer({ dir: files, port: 0, host: "127.0.0.1" });
    observer = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, clientId: "lin-ota-observer", reconnectPeriod: 0 });
    observer.on("message", (t, payload) => {
      if (t === `mote/${ID}/reply/ota`) replies.push(JSON.parse(payload.toString()) as (typeof replies)[number]);
      if (t === `mote/${ID}/status`) online = payload.toString() === "online";
    });
    await observer.subscribeAsync(`mote/${ID}/#`, { qos: 1 });
    dir = mkdtempSync(join(tmpdir(), "mote-lin-ota-"));
    writePreferences(dir, { mote: { ssid: "lab", broker: `mqtt://127.0.0.1:${broker.port}`, clientId: ID, telemetryMs: 500, otaKey: hex(PUBLIC_KEY) } });
    device = new ModdableDevice(so, sdk, dir, { onLine: process.env.MOTE_LOG ? (l) => console.log(`[lin] ${l}`) : undefined });
    device.start();
    // "online" is published after the command subscription, so commands reach it from here on
    await until(() => online, "online", 30_000);
  }, 240_000);

  afterAll(async () => {
    await device?.stop();
    await observer?.endAsync();
    await server?.close();
    await broker?.close();
    for (const d of [dir, files]) if (d) rmSync(d, { recursive: true, force: true });
  });

  test("cmd/ota: streamed into the inactive slot, verified, switched; after the restart the health check keeps it", async () => {
    const image = makeImage(300 * 1024, 7);
    const descriptor = publish(files, "mote-2.0.0.bin", image, { version: "2.0.0", board: "desktop", baseUrl: server.url });
    const mark = device.mark;
    await observer.publishAsync(`mote/${ID}/cmd/ota`, Buffer.from(encodeDescriptor(descriptor)), { qos: 1 });
    await until(() => replies.some((r) => r.type === "done" || r.type === "error"), "OTA outcome", 90_000);
    expect(replies.find((r) => r.type === "error")).toBeUndefined();
    expect(replies[replies.length - 1]).toMatchObject({ type: "done", reboot: true });
    await device.waitFor(/\[host\] exit 75/, 20_000, mark);
    online = false;
    await until(() => online, "online after the restart", 30_000);
    expect(device.boots).toBe(2);
    expect(bootState().running).toBe("ota_1");
    // the slot holds the image byte for byte (the rest of the NOR file is erased or untouched)
    const slot = readFileSync(join(dir, "flash-ota_1.bin"));
    expect(Buffer.compare(slot.subarray(0, image.length), Buffer.from(image))).toBe(0);
    await until(() => bootState().states.ota_1 === "valid", "health check marks ota_1 valid", 30_000);
  }, 180_000);

  test("a descriptor signed by another key is refused, and the running slot stays", async () => {
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const image = makeImage(4096, 9);
    publish(files, "evil.bin", image, { version: "3.0.0", board: "desktop", baseUrl: server.url });
    const forged = signDescriptor(describeImage(image, { version: "3.0.0", board: "desktop", urls: [`${server.url}evil.bin`] }), other);
    const before = replies.length;
    await observer.publishAsync(`mote/${ID}/cmd/ota`, Buffer.from(encodeDescriptor(forged)), { qos: 1 });
    await until(() => replies.length > before && replies.slice(before).some((r) => r.type === "error"), "refusal", 30_000);
    expect(replies.slice(before).find((r) => r.type === "error")?.code).toBeDefined();
    expect(device.boots).toBe(2);
    expect(bootState().running).toBe("ota_1");
  }, 60_000);

  test("no exception was thrown but the refusal's own, and no XS abort", () => {
    // an instrumented build (-i) traces every thrown exception, caught or not
    const thrown = device.lines.filter((l) => /^(Exception |XS abort|mchost: abort)/.test(l));
    expect(thrown).toEqual(["Exception Error: bad-signature"]);
  });
});
