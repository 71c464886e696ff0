/**
 * The device program as a function: `start()` boots the default program —
 * with mote's OTA agent for `cmd/ota` when an OTA key is configured
 * (src/app/ota.ts), the CoAP client for `coapObserve` and `cmd/coap`
 * (src/app/adapters/coap.ts) and the platform restart for reboots
 * (esp_restart on the board) — and publishes a status function the simulator reads
 * (`globalThis.moteStatus()`: WiFi, MQTT state, messages in/out, queue depth).
 *
 * Nothing here runs when the module is evaluated, so Moddable can preload it
 * (and everything it imports) into flash at build time: `mcconfig` evaluates
 * preloaded modules on the build machine, where no timer, socket or radio
 * exists. Moddable's entry module (dist/device/main.js) calls `start()` at
 * boot; the simulator's script (src/app/main.ts) does the same.
 */
import { startDevice } from "./program.js";
import { otaWithSelfTest, type SelfTest } from "./ota.js";
import { platformCoap } from "./adapters/coap.js";
import { firmwareStatus, restart } from "../platform/ota.js";
import type { DeviceStatus } from "../runtime/health.js";

/** `selfTest`: the build's own check, part of the OTA health check after an update (src/app/ota.ts). */
export function start(options: { selfTest?: SelfTest } = {}): { status(): DeviceStatus } {
  // The boot's slot decision first of all, as a bootloader makes it before the app
  // runs: on the ESP32 a read; boards/desktop/ota-boot.js applies the rollback rules
  // when it is first asked, so a boot that fails before anything else asks still counts.
  try {
    firmwareStatus();
  } catch {
    // a host without slots (no ota-boot): nothing to decide
  }
  const app = startDevice({ otaFactory: otaWithSelfTest(options.selfTest), coap: platformCoap, reboot: (reason) => restart(reason) });
  (globalThis as unknown as { moteStatus: () => DeviceStatus }).moteStatus = () => app.status();
  return app;
}
