// XS bridge stub for the host module "embedded:io/socket/listener": served by host-shim/node/listener.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("embedded:io/socket/listener");
export default m.default;
