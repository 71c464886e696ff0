/**
 * The device program's entry: the module Moddable runs at boot (dist/device/
 * mote.js) and the script the simulator evaluates in XS (dist/sim/device.js).
 * It starts the default program — with mote's OTA agent for `cmd/ota` when an
 * OTA key is configured (src/app/ota.ts) and the platform restart for reboots
 * (esp_restart on the board) — and publishes a status function the simulator
 * reads (`globalThis.moteStatus()`: WiFi, MQTT state, messages in/out, queue
 * depth). In the simulator the restart call does nothing; the simulator restarts
 * the engine when it sees `status().reboot`.
 */
import { startDevice } from "./program.js";
import { platformOta } from "./ota.js";
import { restart } from "../platform/ota.js";
import type { DeviceStatus } from "../runtime/health.js";

const app = startDevice({ otaFactory: platformOta, reboot: (reason) => restart(reason) });

(globalThis as unknown as { moteStatus: () => DeviceStatus }).moteStatus = () => app.status();
