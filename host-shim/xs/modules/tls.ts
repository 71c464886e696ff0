// XS bridge stub for the host module "embedded:io/socket/tcp/tls": served by host-shim/node/tls.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("embedded:io/socket/tcp/tls");
export default m.default;
