/**
 * The device's update public key, from configuration text.
 *
 * Accepted spellings (all the same 65-byte uncompressed P-256 point, SEC 1 §2.3.3):
 *   - PEM "PUBLIC KEY" (X.509 SubjectPublicKeyInfo, RFC 5480 §2) as `mote ota keygen` writes it;
 *   - base64 or lowercase hex of the raw 65 bytes.
 * Anything else, or a point not on the curve, is `OtaError("bad-key")`.
 */
import { decodeBase64, decodeHex } from "./encoding.js";
import { encodeUtf8 } from "../util/utf8.js";
import { decodePem } from "../util/pem.js";
import { OtaError } from "./errors.js";
import { isValidP256PublicKey } from "./p256.js";

/** DER prefix of a P-256 SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes) }. */
const SPKI_P256_PREFIX = Object.freeze([
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
  0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
]);

export function publicKeyFromSpki(der: Uint8Array): Uint8Array {
  if (der.length !== SPKI_P256_PREFIX.length + 65) throw new OtaError("bad-key", "not a P-256 SubjectPublicKeyInfo");
  for (let i = 0; i < SPKI_P256_PREFIX.length; i++) {
    if (der[i] !== SPKI_P256_PREFIX[i]) throw new OtaError("bad-key", "not a P-256 SubjectPublicKeyInfo");
  }
  const key = der.slice(SPKI_P256_PREFIX.length);
  if (!isValidP256PublicKey(key)) throw new OtaError("bad-key", "point not on P-256");
  return key;
}

export function parsePublicKey(text: string): Uint8Array {
  if (typeof text !== "string" || text.length > 1024) throw new OtaError("bad-key", "not text");
  const trimmed = text.trim();
  let key: Uint8Array | undefined;
  if (trimmed.startsWith("-----BEGIN PUBLIC KEY-----")) {
    // RFC 7468 §13: the same PEM reader as the TLS certificates (src/util/pem.ts), its faults as "bad-key".
    let der: Uint8Array;
    try {
      der = decodePem(encodeUtf8(trimmed), 1)[0].der; // the one block, and it begins the text: a PUBLIC KEY
    } catch (e) {
      throw new OtaError("bad-key", `PEM: ${(e as Error).message}`);
    }
    return publicKeyFromSpki(der);
  }
  if (/^04[0-9a-f]{128}$/.test(trimmed)) key = decodeHex(trimmed);
  else key = decodeBase64(trimmed);
  if (key === undefined || !isValidP256PublicKey(key)) throw new OtaError("bad-key", "not a 65-byte P-256 point");
  return key;
}
