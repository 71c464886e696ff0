/**
 * Signed device messages: rotation of the OTA trust anchor, and changes of the
 * security-relevant configuration (docs/security.md).
 *
 * Why: the OTA key decides which firmware a device runs, and `broker`, the
 * MQTT credentials, the client id, the topic prefix and the WiFi network decide
 * whom it listens to. Whoever can publish on a device's command topic must not
 * be able to change either (issue 21). These messages are signed by the key
 * the device trusts now, so only the holder of the OTA signing key can.
 *
 * Wire form: a UTF-8 JSON object, at most MAX_SIGNED_BYTES, exactly these members —
 *   format     1 (this document)
 *   type       "rotate-key" | "config"
 *   counter    integer 1..2^31-1; the device keeps the highest it accepted and
 *              refuses any message whose counter is not above it (replay)
 *   device     optional client id: only that device accepts the message
 *              (without it, any device of the fleet holding the key does)
 *   otaKey     rotate-key: lowercase hex of the new 65-byte uncompressed P-256 point
 *   config     config: 1..MAX_CONFIG_MEMBERS protected keys (src/app/security.ts)
 *              → a string, or null to drop the signed value of that key
 *   reboot     config, optional boolean: reboot once saved
 *   signature  base64 (RFC 4648 §4, padded) of the 64-byte ECDSA P-256 r||s
 * Unknown members are refused (a new member means a new `format`).
 *
 * Signing: exactly the descriptor's (descriptor.ts) — ECDSA P-256 over SHA-256
 * of the canonical JSON (members sorted, no whitespace; RFC 8785 for these
 * value types) of the message minus `signature`. `mote ota rotate` and
 * `mote ota sign-config` write them with `mote ota keygen` key files.
 *
 * Pure: parsing returns a typed `TrustError`, never throws anything else;
 * hashing and verifying are passed in (`OtaCrypto`).
 */
import { MoteError, nameError } from "../errors.js";
import { decodeUtf8 } from "../util/utf8.js";
import { canonicalJsonBytes, jsonDepth, sha256Of, type OtaCrypto } from "./descriptor.js";
import { decodeBase64, decodeHex } from "./encoding.js";
import { isValidP256PublicKey } from "./p256.js";

export type TrustErrorCode =
  | "bad-message" // not a signed message of this format
  | "wrong-device" // addressed to another device
  | "no-trust-anchor" // the device has no OTA key: nothing can be verified
  | "replay" // counter not above the highest accepted one
  | "bad-signature" // does not verify under the key in force
  | "bad-key" // the new key is not a P-256 point
  | "store"; // the record could not be saved

/** A signed message refused, with its code (published on the reply topic by the device program). */
export class TrustError extends MoteError<TrustErrorCode> {
  static {
    nameError(this, "TrustError");
  }
  constructor(code: TrustErrorCode, message?: string) {
    super(code, message);
  }
}

export const MAX_SIGNED_BYTES = 2048;
export const MAX_CONFIG_MEMBERS = 8;
export const MAX_COUNTER = 0x7fff_ffff;
const MAX_VALUE_LENGTH = 256;

export type SignedMessage =
  | {
      readonly type: "rotate-key";
      readonly counter: number;
      readonly device: string | undefined;
      readonly otaKey: Uint8Array;
      readonly signature: Uint8Array;
      /** The canonical bytes that were signed. */
      readonly signed: Uint8Array;
    }
  | {
      readonly type: "config";
      readonly counter: number;
      readonly device: string | undefined;
      readonly config: Readonly<Record<string, string | null>>;
      readonly reboot: boolean;
      readonly signature: Uint8Array;
      readonly signed: Uint8Array;
    };

const MEMBERS = Object.freeze(["config", "counter", "device", "format", "otaKey", "reboot", "signature", "type"]);

function bad(message: string): TrustError {
  return new TrustError("bad-message", message);
}

/** Decodes a signed message (form only: the signature is checked by `signedMessageValid`). */
export function parseSignedMessage(input: Uint8Array): SignedMessage | TrustError {
  if (!(input instanceof Uint8Array)) return bad("not bytes");
  if (input.length > MAX_SIGNED_BYTES) return bad(`longer than ${MAX_SIGNED_BYTES} bytes`);
  const text = decodeUtf8(input);
  if (typeof text !== "string") return bad("not UTF-8");
  // Depth checked before JSON.parse: a small hostile input must not drive the
  // engine's recursive parser deep into a small device's C stack.
  if (jsonDepth(text) > 2) return bad("nested too deeply");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return bad("not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return bad("not an object");
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!MEMBERS.includes(key)) return bad(`unknown member "${key.slice(0, 32)}"`);
  if (o.format !== 1) return bad("format must be 1");
  if (typeof o.counter !== "number" || !Number.isInteger(o.counter) || o.counter < 1 || o.counter > MAX_COUNTER)
    return bad(`counter must be an integer 1..${MAX_COUNTER}`);
  if (o.device !== undefined && (typeof o.device !== "string" || o.device.length < 1 || o.device.length > 64))
    return bad("device must be a client id");
  if (typeof o.signature !== "string" || !/^[A-Za-z0-9+/]{86}==$/.test(o.signature)) return bad("signature must be base64 of 64 bytes");
  const signature = decodeBase64(o.signature);
  if (signature === undefined || signature.length !== 64) return bad("signature must be base64 of 64 bytes");
  const device = o.device as string | undefined;
  if (o.type === "rotate-key") {
    if (o.config !== undefined || o.reboot !== undefined) return bad("rotate-key takes otaKey only");
    if (typeof o.otaKey !== "string" || !/^04[0-9a-f]{128}$/.test(o.otaKey)) return bad("otaKey must be 130 lowercase hex digits (04 || X || Y)");
    const otaKey = decodeHex(o.otaKey)!;
    const signed = canonicalOf(o);
    if (signed === undefined) return bad("not canonical JSON");
    return { type: "rotate-key", counter: o.counter, device, otaKey, signature, signed };
  }
  if (o.type === "config") {
    if (o.otaKey !== undefined) return bad("otaKey changes only by rotate-key");
    if (o.reboot !== undefined && typeof o.reboot !== "boolean") return bad("reboot must be a boolean");
    if (typeof o.config !== "object" || o.config === null || Array.isArray(o.config)) return bad("config must be an object");
    const c = o.config as Record<string, unknown>;
    const keys = Object.keys(c);
    if (keys.length < 1 || keys.length > MAX_CONFIG_MEMBERS) return bad(`config must hold 1..${MAX_CONFIG_MEMBERS} keys`);
    const config: Record<string, string | null> = {};
    for (const k of keys) {
      const v = c[k];
      if (k.length > 32) return bad("config key too long");
      if (v !== null && (typeof v !== "string" || v.length > MAX_VALUE_LENGTH)) return bad(`config.${k} must be a string of at most ${MAX_VALUE_LENGTH} or null`);
      config[k] = v as string | null;
    }
    // Every member is checked by now (strings, integers, booleans, null): the
    // canonical form exists; the fuzz campaign holds this (fuzz/targets/signed.ts).
    const signed = canonicalOf(o);
    if (signed === undefined) return bad("not canonical JSON");
    return { type: "config", counter: o.counter, device, config: Object.freeze(config), reboot: o.reboot === true, signature, signed };
  }
  return bad('type must be "rotate-key" or "config"');
}

function canonicalOf(o: Record<string, unknown>): Uint8Array | undefined {
  try {
    return canonicalJsonBytes(o);
  } catch {
    return undefined;
  }
}

/** True when the message's signature verifies under `publicKey` (65-byte uncompressed P-256 point). */
export function signedMessageValid(m: SignedMessage, publicKey: Uint8Array, crypto: OtaCrypto): boolean {
  return crypto.verifyP256(publicKey, sha256Of(crypto, m.signed), m.signature);
}

/**
 * The checks a device makes, in the order that keeps a hostile sender cheap:
 * addressing and replay first (no crypto), then the new key's form, then the
 * signature under the key in force. Returns the refusal, or undefined.
 * The caller rate-limits between `checkAddressing` and `checkSignature`.
 */
export function checkAddressing(m: SignedMessage, device: { clientId: string; counter: number; publicKey: Uint8Array | undefined }): TrustError | undefined {
  if (m.device !== undefined && m.device !== device.clientId) return new TrustError("wrong-device", "addressed to another device");
  if (device.publicKey === undefined) return new TrustError("no-trust-anchor", "no OTA key configured: signed messages cannot be verified");
  if (m.counter <= device.counter) return new TrustError("replay", `counter ${m.counter} not above ${device.counter}`);
  if (m.type === "rotate-key" && !isValidP256PublicKey(m.otaKey)) return new TrustError("bad-key", "new key is not a P-256 point");
  return undefined;
}

export function checkSignature(m: SignedMessage, publicKey: Uint8Array, crypto: OtaCrypto): TrustError | undefined {
  return signedMessageValid(m, publicKey, crypto) ? undefined : new TrustError("bad-signature", "not signed by the key in force");
}
