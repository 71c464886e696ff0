// XS bridge stub for the host module "timer": served by host-shim/node/timer.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("timer");
export default m.default;
