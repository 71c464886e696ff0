import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { describe, expect, test } from "vitest";
import { rawPublicKey } from "../../cli/ota-sign.js";
import { decodeBase64, decodeHex, encodeBase64, encodeHex } from "../../src/ota/encoding.js";
import { OtaError } from "../../src/ota/errors.js";
import { parsePublicKey } from "../../src/ota/keys.js";
import { isValidP256PublicKey, verifyP256 } from "../../src/ota/p256.js";
import { createSha256 } from "../../src/platform/digest.js";
import { verifyP256 as platformVerify } from "../../src/platform/ecdsa.js";

/** Deterministic pseudo-random bytes (xorshift32) so failures reproduce. */
function seeded(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 255;
    }
    return out;
  };
}

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

describe("P-256 verification in BigInt", () => {
  test("accepts node:crypto signatures over random messages with random keys, and refuses any flipped bit", () => {
    const random = seeded(7);
    for (let round = 0; round < 12; round++) {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const pub = rawPublicKey(publicKey);
      const message = random(1 + (round * 37) % 300);
      const sig = new Uint8Array(sign("sha256", message, { key: privateKey, dsaEncoding: "ieee-p1363" }));
      const digest = sha256(message);
      expect(verifyP256(pub, digest, sig)).toBe(true);
      const bit = round * 41;
      const badSig = sig.slice();
      badSig[bit % 64] ^= 1 << (round % 8);
      expect(verifyP256(pub, digest, badSig)).toBe(false);
      const badDigest = digest.slice();
      badDigest[round % 32] ^= 0x80;
      expect(verifyP256(pub, badDigest, sig)).toBe(false);
    }
  });

  test("refuses a signature made with another key", () => {
    const a = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const b = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const message = new Uint8Array([1, 2, 3]);
    const sig = new Uint8Array(sign("sha256", message, { key: a.privateKey, dsaEncoding: "ieee-p1363" }));
    expect(verifyP256(rawPublicKey(b.publicKey), sha256(message), sig)).toBe(false);
  });

  test("returns false, never throws, for malformed keys, digests and signatures", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pub = rawPublicKey(publicKey);
    const digest = sha256(new Uint8Array(0));
    const sig = new Uint8Array(sign("sha256", new Uint8Array(0), { key: privateKey, dsaEncoding: "ieee-p1363" }));
    expect(verifyP256(pub, digest, sig)).toBe(true);
    const offCurve = pub.slice();
    offCurve[64] ^= 1;
    expect(isValidP256PublicKey(offCurve)).toBe(false);
    expect(verifyP256(offCurve, digest, sig)).toBe(false);
    expect(verifyP256(pub.subarray(0, 64), digest, sig)).toBe(false);
    expect(verifyP256(pub, digest.subarray(0, 31), sig)).toBe(false);
    expect(verifyP256(pub, digest, sig.subarray(0, 63))).toBe(false);
    expect(verifyP256(pub, digest, new Uint8Array(64))).toBe(false); // r = s = 0
    expect(verifyP256(pub, digest, new Uint8Array(64).fill(0xff))).toBe(false); // r, s >= n
    expect(verifyP256(new Uint8Array(65), digest, sig)).toBe(false);
  });

  test("the platform entry is the same verifier", () => {
    expect(platformVerify).toBe(verifyP256);
  });
});

describe("SHA-256 through the crypt Digest twin", () => {
  test("matches node:crypto when fed in pieces, including subarray views", () => {
    const data = seeded(3)(10_000);
    const h = createSha256();
    h.write(data.subarray(0, 1));
    h.write(data.subarray(1, 4097));
    h.write(data.subarray(4097));
    expect(encodeHex(h.close())).toBe(encodeHex(sha256(data)));
  });
});

describe("base64 and hex", () => {
  test("round-trip every length 0..70", () => {
    const random = seeded(11);
    for (let n = 0; n <= 70; n++) {
      const bytes = random(n);
      const b64 = encodeBase64(bytes);
      expect(b64).toBe(Buffer.from(bytes).toString("base64"));
      expect(decodeBase64(b64)).toEqual(bytes);
      expect(decodeHex(encodeHex(bytes))).toEqual(bytes);
    }
  });

  test("refuse non-canonical spellings", () => {
    for (const bad of ["A", "AA=", "AB==", "A===", "AA A", "AAA*", "ÿÿÿÿ", "=AAA"]) expect(decodeBase64(bad)).toBeUndefined();
    for (const bad of ["0", "AB", "0g", "0 "]) expect(decodeHex(bad)).toBeUndefined();
  });
});

describe("public key configuration", () => {
  test("PEM, base64 and hex spellings give the same 65-byte point", () => {
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pem = publicKey.export({ type: "spki", format: "pem" }) as string;
    const raw = rawPublicKey(publicKey);
    expect(parsePublicKey(pem)).toEqual(raw);
    expect(parsePublicKey(encodeBase64(raw))).toEqual(raw);
    expect(parsePublicKey(encodeHex(raw))).toEqual(raw);
  });

  test("a P-384 key, garbage or an off-curve point is bad-key", () => {
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey.export({ type: "spki", format: "pem" }) as string;
    for (const text of [p384, "hello", "-----BEGIN PUBLIC KEY-----\nAAAA", "04" + "00".repeat(64)]) {
      expect(() => parsePublicKey(text)).toThrow(OtaError);
      try {
        parsePublicKey(text);
      } catch (e) {
        expect((e as OtaError).code).toBe("bad-key");
      }
    }
  });
});
