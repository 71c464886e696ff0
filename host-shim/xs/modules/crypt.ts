// XS bridge stub for the host module "crypt" (Moddable: `import { Digest } from "crypt"`):
// served by host-shim/node/crypt.ts.
import { remoteModule } from "../bridge.js";

const m = remoteModule("crypt");
export default m.default;
export const Digest = m.Digest;
export const ECDSA = m.ECDSA;
