// XS bridge stub for the host module "embedded:io/socket/tcp": served by host-shim/node/tcp.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("embedded:io/socket/tcp");
export default m.default;
