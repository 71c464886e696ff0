// XS bridge stub for the host module "esp32/ota": served by host-shim/node/ota.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("esp32/ota");
export default m.default;
