/**
 * The device program's entry: the module Moddable runs at boot (dist/device/
 * mote.js) and the script the simulator evaluates in XS (dist/sim/device.js).
 * It starts the default program and publishes a status function the simulator
 * reads (`globalThis.moteStatus()`: WiFi, MQTT state, messages in/out, queue depth).
 */
import { startDevice } from "./program.js";
import type { DeviceStatus } from "../runtime/health.js";

const app = startDevice();

(globalThis as unknown as { moteStatus: () => DeviceStatus }).moteStatus = () => app.status();
