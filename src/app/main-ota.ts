/**
 * The device program with OTA: src/app/main.ts plus mote's OTA agent for
 * `cmd/ota` (src/app/ota.ts) and the platform restart (esp_restart on the
 * board). It needs the `mote/ota-boot` host module; until host-shim/modules.json
 * lists it, builds take src/app/main.ts and the simulator bundles this entry
 * itself (`startSimulation({ ota: ... })`, served by host-shim/node/ota-boot.ts).
 */
import { startDevice } from "./program.js";
import { platformOta } from "./ota.js";
import { restart } from "../platform/ota.js";
import type { DeviceStatus } from "../runtime/health.js";

const app = startDevice({ otaFactory: platformOta, reboot: (reason) => restart(reason) });

(globalThis as unknown as { moteStatus: () => DeviceStatus }).moteStatus = () => app.status();
