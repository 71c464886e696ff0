// XS bridge stub for the host module "embedded:network/dns/resolver/udp": served by host-shim/node/dns.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("embedded:network/dns/resolver/udp");
export default m.default;
