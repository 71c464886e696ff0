/**
 * Keys and signed messages for the security tests of every engine
 * (test/unit/security.test.ts, test/xs/security.test.ts,
 * test/moddable/security.test.ts): made with the same code as
 * `mote ota rotate` / `mote ota sign-config` (cli/ota-signed.ts).
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { rawPublicKey } from "../../cli/ota-sign.js";
import { signMessage } from "../../cli/ota-signed.js";
import { encodeHex } from "../../src/ota/encoding.js";

export interface TestKey {
  readonly key: KeyObject;
  /** 65-byte uncompressed point. */
  readonly pub: Uint8Array;
  /** PEM SubjectPublicKeyInfo, as `mote ota keygen` writes NAME.pub. */
  readonly pem: string;
  readonly hex: string;
}

export function testKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pub = rawPublicKey(privateKey);
  return { key: privateKey, pub, pem: publicKey.export({ type: "spki", format: "pem" }) as string, hex: encodeHex(pub) };
}

export function rotation(signer: TestKey, to: TestKey | Uint8Array, counter: number, device?: string): string {
  const pub = to instanceof Uint8Array ? to : to.pub;
  return signMessage({ format: 1, type: "rotate-key", counter, otaKey: encodeHex(pub), ...(device ? { device } : {}) }, signer.key);
}

export function signedConfig(signer: TestKey, config: Record<string, string | null>, counter: number, reboot = false): string {
  return signMessage({ format: 1, type: "config", counter, config, ...(reboot ? { reboot: true } : {}) }, signer.key);
}

/** The two messages of issue 21 that took a device over before. */
export function takeoverMessages(attacker: TestKey): { otaKey: string; broker: string } {
  return {
    otaKey: JSON.stringify({ otaKey: attacker.hex }),
    broker: JSON.stringify({ broker: "mqtt://127.0.0.2:1883", reboot: true }),
  };
}

type TrustRecord = Record<string, { bytes: string }>;

/** The trust slot ("ta" or "tb") whose bytes a save changed from `before` to `after`. */
export function changedTrustSlot(before: TrustRecord, after: TrustRecord): string {
  return ["ta", "tb"].find((k) => after[k]?.bytes !== before[k]?.bytes)!;
}

/**
 * The trust record (preferences file contents) as a power cut while saving
 * `slot` left it: the slot is either lost (back to what it was in `before`,
 * or absent) or half-written (the first half of its bytes in `after`).
 */
export function tornTrust(before: TrustRecord, after: TrustRecord, slot: string, cut: "lost" | "half"): TrustRecord {
  const torn = { ...after };
  if (cut === "lost") {
    if (before[slot] === undefined) delete torn[slot];
    else torn[slot] = before[slot];
  } else {
    const bytes = Buffer.from(after[slot].bytes, "base64");
    torn[slot] = { bytes: bytes.subarray(0, bytes.length >> 1).toString("base64") };
  }
  return torn;
}
