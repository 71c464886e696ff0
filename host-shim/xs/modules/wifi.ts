// XS bridge stub for the host module "wifi": served by host-shim/node/wifi.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("wifi");
export default m.default;
