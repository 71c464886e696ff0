/**
 * The update descriptor: what an image is, for which board, and who signed it.
 *
 * Wire form: a UTF-8 JSON object (at most `maxBytes`, default 4096) with
 * exactly these members —
 *
 *   format      1 (this document)
 *   kind        "firmware" (A/B app slot) | "mod" (Moddable archive in the xs partition)
 *   board       target board id, 1..64 of [A-Za-z0-9._/-], e.g. "esp32/moddable_two", "sim"
 *   version     semver 2.0.0 of the image
 *   minVersion  optional semver ≤ version: the anti-rollback floor. Once an image
 *               carrying it is committed, the device refuses any version below it.
 *   size        image length in bytes, integer 1..2^31-1
 *   sha256      SHA-256 of the image, 64 lowercase hex digits
 *   urls        optional, 1..4 strings (http://, https://, coap://, coaps://), ≤ 512 chars each
 *   created     creation time, "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339, UTC, no fraction)
 *   signature   base64 (RFC 4648 §4, padded) of the 64-byte ECDSA P-256 signature r||s
 *
 * Unknown members are refused (a new member means a new `format`).
 *
 * Canonical encoding (what is signed): the descriptor without `signature`,
 * serialised as JSON with members sorted by key (UTF-16 code-unit order), no
 * whitespace, strings escaped as ECMAScript JSON.stringify does, integers in
 * plain decimal, arrays in their order — then UTF-8. For the value types
 * allowed here this equals RFC 8785 (JCS). The signature is ECDSA P-256 over
 * SHA-256 of those bytes (FIPS 186-4 §6.4), r||s big-endian 32 bytes each.
 *
 * This module is pure: hashing and verification are passed in (`OtaCrypto`),
 * so the same code runs over the device's `crypt` module, node:crypto, or a
 * test double.
 */
import { decodeUtf8, encodeUtf8 } from "../util/utf8.js";
import { decodeBase64, decodeHex, encodeHex } from "./encoding.js";
import { OtaError } from "./errors.js";
import { compareVersions, parseSemVer } from "./semver.js";

export type UpdateKind = "firmware" | "mod";

export interface UnsignedDescriptor {
  readonly format: 1;
  readonly kind: UpdateKind;
  readonly board: string;
  readonly version: string;
  readonly minVersion?: string;
  readonly size: number;
  readonly sha256: string;
  readonly urls?: readonly string[];
  readonly created: string;
}

export interface Descriptor extends UnsignedDescriptor {
  readonly signature: string;
}

/** Incremental SHA-256, as `src/platform/digest.ts` provides. */
export interface Sha256 {
  write(data: Uint8Array): void;
  close(): Uint8Array;
}

/** The two primitives the OTA path needs (platform: digest.ts + ecdsa.ts). */
export interface OtaCrypto {
  createSha256(): Sha256;
  verifyP256(publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean;
}

/** Default bound on the descriptor's encoded size. */
export const DEFAULT_MAX_DESCRIPTOR_BYTES = 4096;
export const MAX_IMAGE_SIZE = 0x7fffffff;
export const MAX_URLS = 4;
export const MAX_URL_LENGTH = 512;

const MEMBERS = Object.freeze([
  "board", "created", "format", "kind", "minVersion", "sha256", "signature", "size", "urls", "version",
]);
const BOARD = (): RegExp => /^[A-Za-z0-9._/-]{1,64}$/; // made per call: a RegExp must not be preloaded (docs/moddable.md)
const CREATED = (): RegExp => /^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$/; // made per call: a RegExp must not be preloaded (docs/moddable.md)
const SHA256_HEX = (): RegExp => /^[0-9a-f]{64}$/; // made per call: a RegExp must not be preloaded (docs/moddable.md)
const URL_FORM = (): RegExp => /^(https?|coaps?):\/\/[!-~]+$/; // made per call: a RegExp must not be preloaded (docs/moddable.md)
const BASE64_SIG = (): RegExp => /^[A-Za-z0-9+/]{86}==$/; // made per call: a RegExp must not be preloaded (docs/moddable.md)

function bad(message: string): OtaError {
  return new OtaError("bad-descriptor", message);
}

/**
 * Nesting depth of a JSON text, counted outside strings. Checked before
 * JSON.parse so a small hostile input cannot drive the engine's recursive
 * parser deep into the C stack of a small device.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) max = Math.max(max, ++depth);
    else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/**
 * Parses and validates the form of a descriptor (not its signature). Throws
 * `OtaError("bad-descriptor")` with the reason for anything else.
 */
export function parseDescriptor(input: Uint8Array | string, maxBytes = DEFAULT_MAX_DESCRIPTOR_BYTES): Descriptor {
  let text: string;
  if (typeof input === "string") {
    if (input.length > maxBytes) throw bad(`longer than ${maxBytes} bytes`);
    text = input;
  } else if (input instanceof Uint8Array) {
    if (input.length > maxBytes) throw bad(`longer than ${maxBytes} bytes`);
    const decoded = decodeUtf8(input);
    if (typeof decoded !== "string") throw bad(`not UTF-8 (${decoded.fault})`);
    text = decoded;
  } else throw bad("not bytes or text");
  if (jsonDepth(text) > 2) throw bad("nested too deeply");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad("not JSON");
  }
  return validateDescriptor(value);
}

/** Validates an already-parsed JSON value as a descriptor. */
export function validateDescriptor(value: unknown): Descriptor {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad("not an object");
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!MEMBERS.includes(key)) throw bad(`unknown member "${key.slice(0, 32)}"`);
  if (o.format !== 1) throw bad("format must be 1");
  if (o.kind !== "firmware" && o.kind !== "mod") throw bad('kind must be "firmware" or "mod"');
  if (typeof o.board !== "string" || !BOARD().test(o.board)) throw bad("board");
  if (typeof o.version !== "string" || parseSemVer(o.version) === undefined) throw bad("version is not semver");
  if (o.minVersion !== undefined) {
    if (typeof o.minVersion !== "string" || parseSemVer(o.minVersion) === undefined) throw bad("minVersion is not semver");
    if (compareVersions(o.minVersion, o.version)! > 0) throw bad("minVersion above version");
  }
  if (typeof o.size !== "number" || !Number.isInteger(o.size) || o.size < 1 || o.size > MAX_IMAGE_SIZE) throw bad("size");
  if (typeof o.sha256 !== "string" || !SHA256_HEX().test(o.sha256)) throw bad("sha256 must be 64 lowercase hex digits");
  if (o.urls !== undefined) {
    if (!Array.isArray(o.urls) || o.urls.length < 1 || o.urls.length > MAX_URLS) throw bad(`urls must hold 1..${MAX_URLS} entries`);
    for (const u of o.urls) {
      if (typeof u !== "string" || u.length > MAX_URL_LENGTH || !URL_FORM().test(u)) throw bad("url");
    }
  }
  if (typeof o.created !== "string" || !CREATED().test(o.created)) throw bad("created must be YYYY-MM-DDTHH:MM:SSZ");
  if (typeof o.signature !== "string" || !BASE64_SIG().test(o.signature) || decodeBase64(o.signature) === undefined) {
    throw bad("signature must be base64 of 64 bytes");
  }
  const d: Descriptor = {
    format: 1,
    kind: o.kind,
    board: o.board,
    version: o.version,
    ...(o.minVersion !== undefined ? { minVersion: o.minVersion as string } : {}),
    size: o.size,
    sha256: o.sha256,
    ...(o.urls !== undefined ? { urls: Object.freeze([...(o.urls as string[])]) } : {}),
    created: o.created,
    signature: o.signature,
  };
  return Object.freeze(d);
}

function canonicalValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  // RFC 8785 §3.2.2.1 literals; no descriptor member has one, signed messages (signed.ts) do.
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw bad("only integers are canonical");
    return String(v);
  }
  if (Array.isArray(v)) return "[" + v.map(canonicalValue).join(",") + "]";
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalValue(o[k])).join(",") + "}";
  }
  throw bad("value type not allowed");
}

/** The bytes that are signed: canonical JSON of the descriptor minus `signature`. */
export function canonicalDescriptorBytes(d: UnsignedDescriptor | Descriptor): Uint8Array {
  const copy: Record<string, unknown> = { ...d };
  delete copy.signature;
  return encodeUtf8(canonicalValue(copy));
}

/**
 * Canonical bytes of any signed JSON object (the same rules as the descriptor's):
 * `value` minus its `signature` member. Used by the signed messages (signed.ts).
 */
export function canonicalJsonBytes(value: Readonly<Record<string, unknown>>): Uint8Array {
  const copy: Record<string, unknown> = { ...value };
  delete copy.signature;
  return encodeUtf8(canonicalValue(copy));
}

/** The full descriptor as canonical JSON text (signature included) — what `pack` writes. */
export function encodeDescriptor(d: Descriptor): string {
  return canonicalValue(d);
}

export function sha256Of(crypto: OtaCrypto, data: Uint8Array): Uint8Array {
  const h = crypto.createSha256();
  h.write(data);
  return h.close();
}

/** True when `d.signature` verifies under `publicKey` (65-byte uncompressed P-256 point). */
export function descriptorSignatureValid(d: Descriptor, publicKey: Uint8Array, crypto: OtaCrypto): boolean {
  const sig = decodeBase64(d.signature);
  if (sig === undefined || sig.length !== 64) return false;
  return crypto.verifyP256(publicKey, sha256Of(crypto, canonicalDescriptorBytes(d)), sig);
}

/** What the device knows about itself when judging an update. */
export interface UpdatePolicy {
  /** This device's board id (descriptor.board must equal it). */
  readonly board: string;
  /** Version currently running (of the firmware, or of the mod for kind "mod"). */
  readonly runningVersion: string;
  /** Anti-rollback floor recorded on the device (highest minVersion committed). */
  readonly floorVersion?: string;
  /** Bytes available in the target slot/partition. */
  readonly maxSize: number;
  /** Kinds this device accepts (default: both). */
  readonly kinds?: readonly UpdateKind[];
  /** Accept an older version (still never below the floor). Default false. */
  readonly allowDowngrade?: boolean;
  /** Accept the same version again (re-flash). Default false. */
  readonly allowSameVersion?: boolean;
}

/**
 * Checks board, kind, version and size against the device (signature is
 * checked separately, first). Returns the refusal, or undefined to proceed.
 */
export function checkDescriptor(d: Descriptor, policy: UpdatePolicy): OtaError | undefined {
  if (d.board !== policy.board) return new OtaError("wrong-board", `image for "${d.board}", device is "${policy.board}"`);
  if (policy.kinds !== undefined && !policy.kinds.includes(d.kind)) return new OtaError("wrong-kind", d.kind);
  if (policy.floorVersion !== undefined) {
    const vsFloor = compareVersions(d.version, policy.floorVersion);
    if (vsFloor === undefined || vsFloor < 0) {
      return new OtaError("downgrade", `${d.version} is below the anti-rollback floor ${policy.floorVersion}`);
    }
  }
  const vsRunning = compareVersions(d.version, policy.runningVersion);
  if (vsRunning === undefined) return new OtaError("downgrade", `running version "${policy.runningVersion}" is not semver`);
  if (vsRunning === 0 && !policy.allowSameVersion) return new OtaError("up-to-date", d.version);
  if (vsRunning < 0 && !policy.allowDowngrade) return new OtaError("downgrade", `${d.version} < running ${policy.runningVersion}`);
  if (d.size > policy.maxSize) return new OtaError("too-large", `${d.size} bytes > ${policy.maxSize}`);
  return undefined;
}

/**
 * The whole admission check, in the order that matters: form, then signature
 * (nothing unsigned is looked at further), then board/kind/version/size.
 * Throws OtaError; returns the accepted descriptor.
 */
export function acceptDescriptor(
  input: Uint8Array | string | Descriptor,
  options: { publicKey: Uint8Array; crypto: OtaCrypto; policy: UpdatePolicy; maxBytes?: number },
): Descriptor {
  const d = typeof input === "string" || input instanceof Uint8Array ? parseDescriptor(input, options.maxBytes) : validateDescriptor(input);
  if (!descriptorSignatureValid(d, options.publicKey, options.crypto)) throw new OtaError("bad-signature");
  const refusal = checkDescriptor(d, options.policy);
  if (refusal !== undefined) throw refusal;
  return d;
}

/** descriptor.sha256 as 32 bytes. */
export function descriptorDigest(d: Descriptor): Uint8Array {
  return decodeHex(d.sha256)!;
}

export { encodeHex };
