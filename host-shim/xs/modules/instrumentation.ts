// XS bridge stub for the host module "instrumentation": served by host-shim/node/instrumentation.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("instrumentation");
export default m.default;
