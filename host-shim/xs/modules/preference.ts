// XS bridge stub for the host module "preference": served by host-shim/node/preference.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("preference");
export default m.default;
