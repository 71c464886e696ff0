/**
 * The device program without its opt-in parts, for `npm run bench -- device`
 * (device_core_*): WiFi, MQTT, telemetry, commands, signed configuration and
 * SNTP — no CoAP client (`coap`) and no OTA agent (`otaFactory`). The full
 * default program is src/app/main.ts (device_bundle_*); the difference is
 * what those two parts cost.
 */
import { startDevice } from "../src/app/program.js";

startDevice();
