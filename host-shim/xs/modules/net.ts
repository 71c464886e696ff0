// XS bridge stub for the host module "net": served by host-shim/node/net.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("net");
export default m.default;
