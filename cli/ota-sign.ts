/**
 * Host-side signing for `mote ota`: key generation, descriptor signing and
 * image packing over node:crypto. The device side only ever verifies
 * (src/ota/descriptor.ts + src/ota/p256.ts); this file is its mirror image
 * and shares the canonical encoding with it.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import {
  canonicalDescriptorBytes,
  validateDescriptor,
  type Descriptor,
  type OtaCrypto,
  type UnsignedDescriptor,
  type UpdateKind,
} from "../src/ota/descriptor.js";
import { encodeBase64 } from "../src/ota/encoding.js";
import { publicKeyFromSpki } from "../src/ota/keys.js";
import { verifyP256 } from "../src/ota/p256.js";

/** OtaCrypto over node:crypto (hash) and the device's own P-256 verifier. */
export const nodeOtaCrypto: OtaCrypto = Object.freeze({
  createSha256() {
    const h = createHash("sha256");
    return {
      write(data: Uint8Array) {
        h.update(data);
      },
      close() {
        return new Uint8Array(h.digest());
      },
    };
  },
  verifyP256,
});

export interface KeyPairPem {
  privatePem: string;
  publicPem: string;
}

export function generateSigningKey(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    publicPem: publicKey.export({ type: "spki", format: "pem" }) as string,
  };
}

/** 65-byte uncompressed point of a PEM public (or private) key. */
export function rawPublicKey(pem: string | KeyObject): Uint8Array {
  const key = typeof pem === "string" ? createPublicKey(pem) : pem.type === "public" ? pem : createPublicKey(pem);
  const der = key.export({ type: "spki", format: "der" });
  return publicKeyFromSpki(new Uint8Array(der));
}

export function loadPrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error("bad-key: not a PEM private key");
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new Error("bad-key: not a P-256 private key");
  }
  return key;
}

/** Signs the canonical encoding (ECDSA P-256 / SHA-256, r||s). */
export function signDescriptor(unsigned: UnsignedDescriptor, privateKey: KeyObject): Descriptor {
  const sig = sign("sha256", canonicalDescriptorBytes(unsigned), { key: privateKey, dsaEncoding: "ieee-p1363" });
  return validateDescriptor({ ...unsigned, signature: encodeBase64(new Uint8Array(sig)) });
}

export function sha256Of(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** `created` in the descriptor's format (RFC 3339 UTC, whole seconds). */
export function createdNow(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function describeImage(
  image: Uint8Array,
  fields: { version: string; board: string; kind?: UpdateKind; minVersion?: string; urls?: string[]; created?: string },
): UnsignedDescriptor {
  return {
    format: 1,
    kind: fields.kind ?? "firmware",
    board: fields.board,
    version: fields.version,
    ...(fields.minVersion !== undefined ? { minVersion: fields.minVersion } : {}),
    size: image.length,
    sha256: sha256Hex(image),
    ...(fields.urls !== undefined && fields.urls.length > 0 ? { urls: fields.urls } : {}),
    created: fields.created ?? createdNow(),
  };
}
