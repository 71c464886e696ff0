/**
 * The device program's entry: the module Moddable runs at boot (dist/device/
 * mote.js) and the script the simulator evaluates in XS (dist/sim/device.js).
 * It starts the default program and publishes a status function the simulator
 * reads (`globalThis.moteStatus()`: WiFi, MQTT state, messages in/out, queue depth).
 *
 * OTA: src/app/ota.ts (`platformOta`) is not wired here yet — it imports the
 * `mote/ota-boot` host module, which host-shim/modules.json does not list yet,
 * so neither the simulator bundle nor the device bundle could be built with it.
 * Once listed: `startDevice({ otaFactory: platformOta, reboot: (r) => restart(r) })`
 * with `restart` from src/platform/ota.ts. Until then a reboot request is
 * recorded in status().reboot (the simulator restarts the engine on it).
 */
import { startDevice } from "./program.js";
import type { DeviceStatus } from "../runtime/health.js";

const app = startDevice();

(globalThis as unknown as { moteStatus: () => DeviceStatus }).moteStatus = () => app.status();
