// XS bridge stub for the host module "embedded:io/socket/udp": served by host-shim/node/udp.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("embedded:io/socket/udp");
export default m.default;
