// XS bridge stub for the host module "embedded:network/interface/wifi": served by host-shim/node/wifi.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("embedded:network/interface/wifi");
export default m.default;
