// XS bridge stub for the host module "mc/config": served by host-shim/node/config.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("mc/config");
export default m.default;
