/**
 * Moddable tier: WiFi on Moddable's own runtime (mcconfig -p lin) through
 * `embedded:network/interface/wifi`, the ECMA-419 module the ESP32 gets —
 * on lin the stand-in boards/desktop/wifi.js, driven by the `mote-wifi.json`
 * a test puts in the device's folder. The device program takes the chip's
 * path: an SSID not on the air is "no-ap", a rejected join "wrong-password"
 * (both found by a scan: the interface reports no reason), each retried by
 * the supervisor with backoff; once the network is right it joins, comes
 * online and its telemetry carries the RSSI read from the interface; a network
 * that leaves the air is a lost link, and the device joins again by itself.
 *
 * Needs the Moddable SDK and mosquitto: under CI their absence fails; elsewhere
 * the tier is skipped with the reason printed.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildModdable } from "../../host-shim/moddable/build.js";
import { ModdableDevice, writePreferences } from "../../host-shim/moddable/run.js";
import { findModdable, moddableMissing, type ModdableSdk } from "../../host-shim/moddable/sdk.js";
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";

const skip = moddableMissing() ?? mosquittoSkipReason();
const ID = "lin-wifi-1";

describe.skipIf(skip !== undefined)("WiFi through the ECMA-419 interface on Moddable's runtime (mcconfig -p lin)", () => {
  let sdk: ModdableSdk;
  let broker: Mosquitto;
  let observer: MqttClient;
  let device: ModdableDevice;
  let dir: string;
  const telemetry: Record<string, unknown>[] = [];
  const air = (networks: { ssid: string; password?: string; rssi?: number }[]) =>
    writeFileSync(join(dir, "mote-wifi.json"), JSON.stringify(networks));

  beforeAll(async () => {
    sdk = findModdable() as ModdableSdk;
    const so = await buildModdable("device", sdk);
    broker = await startMosquitto();
    observer = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, clientId: "lin-wifi-observer", reconnectPeriod: 0 });
    observer.on("message", (t, payload) => {
      if (t === `mote/${ID}/telemetry`) telemetry.push(JSON.parse(payload.toString("utf8")) as Record<string, unknown>);
    });
    await observer.subscribeAsync(`mote/${ID}/#`, { qos: 1 });
    dir = mkdtempSync(join(tmpdir(), "mote-lin-wifi-"));
    writePreferences(dir, {
      mote: { ssid: "lab", password: "secret-pass", broker: `mqtt://127.0.0.1:${broker.port}`, clientId: ID, telemetryMs: 400 },
    });
    air([{ ssid: "elsewhere", password: "x-x-x-x-x" }]); // "lab" is not on the air
    device = new ModdableDevice(so, sdk, dir, { onLine: process.env.MOTE_LOG ? (l) => console.log(`[lin] ${l}`) : undefined });
    device.start();
  }, 240_000);

  afterAll(async () => {
    await device?.stop();
    await observer?.endAsync();
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("an SSID that is not on the air: no-ap, and the supervisor retries with backoff", async () => {
    await device.waitFor(/wifi down: no-ap/, 20_000);
    const retry = await device.waitFor(/supervisor: wifi failed \(no-ap\); restart in \d+ ms/, 10_000);
    expect(retry).toMatch(/restart in \d+ ms/);
    expect(device.lines.some((l) => /mqtt connected/.test(l))).toBe(false);
  }, 40_000);

  test("the network on the air with another password: wrong-password", async () => {
    const from = device.mark;
    air([{ ssid: "lab", password: "another-pass", rssi: -70 }]);
    await device.waitFor(/wifi down: wrong-password/, 30_000, from);
    expect(device.lines.some((l) => /mqtt connected/.test(l))).toBe(false);
  }, 40_000);

  test("the right network: it joins, comes online, and telemetry carries the interface's RSSI", async () => {
    const from = device.mark;
    air([{ ssid: "lab", password: "secret-pass", rssi: -61 }]);
    await device.waitFor(/wifi up 127\.0\.0\.1/, 30_000, from);
    await device.waitFor(/mqtt connected/, 20_000, from);
    const start = telemetry.length;
    for (let i = 0; i < 200 && telemetry.length === start; i++) await new Promise((r) => setTimeout(r, 100));
    expect(telemetry.length).toBeGreaterThan(start);
    expect(telemetry[telemetry.length - 1].rssi).toBe(-61);
  }, 60_000);

  test("the network leaves the air: lost-link, and when it is back the device joins again by itself", async () => {
    const from = device.mark;
    air([]);
    await device.waitFor(/wifi down: lost-link/, 20_000, from);
    const back = device.mark;
    air([{ ssid: "lab", password: "secret-pass", rssi: -55 }]);
    await device.waitFor(/wifi up 127\.0\.0\.1/, 30_000, back);
    // The desktop's sockets are the host's: the broker connection may outlive the simulated
    // radio, so the proof is telemetry from after the return, with the new RSSI and the drop counted.
    const start = telemetry.length;
    const isBack = (t: Record<string, unknown>) => t.rssi === -55;
    for (let i = 0; i < 200 && !telemetry.slice(start).some(isBack); i++) await new Promise((r) => setTimeout(r, 100));
    const record = telemetry.slice(start).find(isBack);
    expect(record, `telemetry since the return: ${JSON.stringify(telemetry.slice(start).map((t) => t.rssi))}`).toBeDefined();
    expect((record!.counters as { wifiDrops: number }).wifiDrops).toBe(1);
  }, 60_000);
});
