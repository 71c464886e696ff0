// XS bridge stub for the host module "flash": served by host-shim/node/flash.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("flash");
export default m.default;
