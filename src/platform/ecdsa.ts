/**
 * ECDSA P-256 verification for the device.
 *
 * The Moddable SDK documents no public-key API in `crypt` (its ECDSA code is
 * an internal of the TLS stack), so this is the pure-BigInt implementation
 * in src/ota/p256.ts — the same on the device, in XS and in Node. Kept as a
 * platform entry so a board with a native verifier (e.g. mbedTLS through a
 * small native module) can swap it here without touching the OTA path.
 */
export { verifyP256 } from "../ota/p256.js";
