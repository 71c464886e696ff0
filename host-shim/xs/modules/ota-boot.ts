// XS bridge stub for the native module "mote/ota-boot": served by host-shim/node/ota-boot.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("mote/ota-boot");
export default m.default;
