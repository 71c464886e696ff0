/**
 * PEM text (RFC 7468) to DER bytes, for the certificates and keys handed to
 * the TLS socket. Moddable's TLS (modules/crypt/ssl, x509) reads DER only:
 * PEM bytes given to it fail deep in its x509 decoder ("x509: malformed
 * input"), so PEM is decoded here, the same way on every engine.
 *
 * Theory of operation. The text is scanned line by line (CR, LF or CRLF
 * ends a line). Text outside the encapsulation boundaries is ignored
 * (RFC 7468 §2: "parsers MUST NOT malfunction" on it). Between
 * `-----BEGIN label-----` and `-----END label-----` (same label, §2) the
 * lines are base64 (RFC 4648 §4, padding required, §3 "stricttextualmsg" is
 * not demanded: any line length, spaces and tabs are skipped, as §3 allows
 * lax parsers to). RFC 1421 headers (`Proc-Type:` …, encrypted keys) are
 * refused: §5.1 forbids them for certificates and Moddable cannot decrypt.
 *
 * Works on the bytes themselves, never on a string copy of the file (XS
 * would hold both). Bounds: at most `maxBlocks` blocks (default 4); the
 * input is the caller's to bound (a CA file of a few KB). Every fault is a
 * PemError with a code.
 */
import { MoteError, nameError } from "../errors.js";

export type PemErrorCode =
  | "pem-no-block" // no -----BEGIN line at all
  | "pem-boundary" // a BEGIN without its END, END without BEGIN, labels that differ, a malformed boundary line
  | "pem-headers" // RFC 1421 headers inside a block (encrypted or legacy PEM)
  | "pem-base64" // a character outside the base64 alphabet, bad padding, or a length not a multiple of 4
  | "pem-empty" // a block with no data
  | "pem-too-many" // more blocks than allowed
  | "pem-label" // a block of the wrong kind (a key where a certificate belongs, ...)
  | "der-malformed"; // bytes that are neither PEM nor one whole DER SEQUENCE

export class PemError extends MoteError<PemErrorCode> {
  static {
    nameError(this, "PemError");
  }
}

export interface PemBlock {
  /** The label between BEGIN and the dashes, e.g. "CERTIFICATE". */
  readonly label: string;
  readonly der: Uint8Array;
}

const BEGIN = "-----BEGIN ";
const END = "-----END ";
const DASHES = "-----";

/** Whether `bytes` hold a `-----BEGIN ` line anywhere: a PEM file rather than DER. */
export function looksLikePem(bytes: Uint8Array): boolean {
  for (let i = 0; i + BEGIN.length <= bytes.length; i++) if (startsWith(bytes, i, bytes.length, BEGIN)) return true;
  return false;
}

function startsWith(bytes: Uint8Array, from: number, to: number, text: string): boolean {
  if (to - from < text.length) return false;
  for (let k = 0; k < text.length; k++) if (bytes[from + k] !== text.charCodeAt(k)) return false;
  return true;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Up to 64 bytes of a line as printable text, for error messages. */
function show(bytes: Uint8Array, from: number, to: number): string {
  let s = "";
  for (let i = from; i < to && i < from + 64; i++) s += bytes[i] >= 0x20 && bytes[i] < 0x7f ? String.fromCharCode(bytes[i]) : "?";
  return JSON.stringify(s);
}

/**
 * The label of a boundary line `prefix label-----` in bytes[from, to), or
 * undefined when the line is not one. RFC 7468 §3:
 * label = [ labelchar *( ["-" / SP] labelchar ) ]; labelchar = %x21-2C / %x2E-7E.
 */
function boundaryLabel(bytes: Uint8Array, from: number, to: number, prefix: string): string | undefined {
  const a = from + prefix.length;
  const b = to - DASHES.length;
  if (b < a || !startsWith(bytes, from, to, prefix) || !startsWith(bytes, b, to, DASHES)) return undefined;
  let label = "";
  for (let i = a; i < b; i++) {
    const c = bytes[i];
    if (c === 0x2d || c === 0x20) {
      const before = i === a ? -1 : bytes[i - 1];
      if (i === a || i === b - 1 || before === 0x2d || before === 0x20) return undefined;
    } else if (c < 0x21 || c > 0x7e) return undefined;
    label += String.fromCharCode(c);
  }
  return label;
}

/** The 6-bit value of a base64 character (RFC 4648 §4, Table 1), or -1. */
function sextet(c: number): number {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41; // A-Z
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26; // a-z
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52; // 0-9
  if (c === 0x2b) return 62; // +
  if (c === 0x2f) return 63; // /
  return -1;
}

/**
 * Base64 (RFC 4648 §4, padding required) in bytes[from, to) to bytes; spaces,
 * tabs, CR and LF are skipped (RFC 7468 §3 lets parsers accept them). Pad
 * bits need not be zero (§3.5 makes that a MAY).
 */
export function decodeBase64(bytes: Uint8Array, from = 0, to = bytes.length): Uint8Array {
  let count = 0;
  let pad = 0;
  for (let i = from; i < to; i++) {
    const c = bytes[i];
    if (isBlank(c) || c === 0x0a || c === 0x0d) continue;
    if (c === 0x3d) pad++;
    else if (pad > 0 || sextet(c) < 0) throw new PemError("pem-base64", `byte ${c} at ${i - from} is not base64${pad > 0 ? " (data after =)" : ""}`);
    count++;
  }
  // "=" only as the last one or two characters of the last quantum (RFC 4648 §4)
  if (count % 4 !== 0) throw new PemError("pem-base64", `${count} base64 characters: not a multiple of 4`);
  if (pad > 2) throw new PemError("pem-base64", `${pad} padding characters`);
  const out = new Uint8Array((count / 4) * 3 - pad);
  let o = 0;
  let v = 0;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = bytes[i];
    if (isBlank(c) || c === 0x0a || c === 0x0d) continue;
    v = (v << 6) | (c === 0x3d ? 0 : sextet(c));
    if (++n === 4) {
      if (o < out.length) out[o++] = (v >>> 16) & 0xff;
      if (o < out.length) out[o++] = (v >>> 8) & 0xff;
      if (o < out.length) out[o++] = v & 0xff;
      v = 0;
      n = 0;
    }
  }
  return out;
}

/** Every PEM block in `bytes`, in order. */
export function decodePem(bytes: Uint8Array, maxBlocks = 4): PemBlock[] {
  const blocks: PemBlock[] = [];
  let label: string | undefined; // inside a block when defined
  let bodyFrom = 0;
  let at = 0;
  const size = bytes.length;
  while (at < size) {
    let end = at;
    while (end < size && bytes[end] !== 0x0a && bytes[end] !== 0x0d) end++;
    let a = at;
    let b = end;
    at = end + 1; // a CRLF leaves an empty line behind: harmless
    while (a < b && isBlank(bytes[a])) a++;
    while (b > a && isBlank(bytes[b - 1])) b--;
    if (label === undefined) {
      if (startsWith(bytes, a, b, BEGIN)) {
        const l = boundaryLabel(bytes, a, b, BEGIN);
        if (l === undefined) throw new PemError("pem-boundary", `malformed line ${show(bytes, a, b)}`);
        if (blocks.length >= maxBlocks) throw new PemError("pem-too-many", `more than ${maxBlocks} PEM blocks`);
        label = l;
        bodyFrom = at;
      } else if (startsWith(bytes, a, b, END)) throw new PemError("pem-boundary", "an END line without its BEGIN");
      continue; // explanatory text between blocks (RFC 7468 §2)
    }
    if (startsWith(bytes, a, b, END)) {
      if (boundaryLabel(bytes, a, b, END) !== label) throw new PemError("pem-boundary", `BEGIN ${label} ends with ${show(bytes, a, b)}`);
      const der = decodeBase64(bytes, bodyFrom, a);
      if (der.length === 0) throw new PemError("pem-empty", `the ${label} block holds no data`);
      blocks.push({ label, der });
      label = undefined;
      continue;
    }
    if (startsWith(bytes, a, b, DASHES)) throw new PemError("pem-boundary", `BEGIN ${label} has no END line`);
    for (let i = a; i < b; i++)
      if (bytes[i] === 0x3a) throw new PemError("pem-headers", `the ${label} block has RFC 1421 headers (encrypted or legacy PEM is not supported)`);
  }
  if (label !== undefined) throw new PemError("pem-boundary", `BEGIN ${label} has no END line`);
  if (blocks.length === 0) throw new PemError("pem-no-block", "no -----BEGIN line");
  return blocks;
}

/**
 * Whether bytes[0..] is one DER SEQUENCE spanning exactly all the bytes
 * (X.690 §8.1: tag 0x30, definite length in short or long form, §10.1
 * minimal length octets not checked). Certificates (RFC 5280 §4.1) and
 * PKCS #8 keys (RFC 5208 §5) are such a SEQUENCE.
 */
export function isDerSequence(bytes: Uint8Array): boolean {
  if (bytes.length < 2 || bytes[0] !== 0x30) return false;
  let length = bytes[1];
  let header = 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 3 || bytes.length < 2 + octets) return false; // indefinite (0) or > 16 MB
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + bytes[2 + i];
    header += octets;
  }
  return header + length === bytes.length;
}

/**
 * The DER of a certificate or key given as DER or PEM bytes: DER must be one
 * SEQUENCE; PEM must hold exactly one block, labelled one of `labels`
 * (RFC 7468 §5.1 "CERTIFICATE", §10 "PRIVATE KEY").
 */
export function derOf(bytes: Uint8Array, labels: readonly string[], what: string): Uint8Array {
  if (!looksLikePem(bytes)) {
    if (!isDerSequence(bytes)) throw new PemError("der-malformed", `${what} is neither PEM nor DER`);
    return bytes;
  }
  const blocks = decodePem(bytes);
  if (blocks.length > 1) throw new PemError("pem-too-many", `${what} holds ${blocks.length} PEM blocks; give exactly one`);
  const block = blocks[0];
  if (!labels.includes(block.label)) throw new PemError("pem-label", `${what} is a PEM ${block.label}, expected ${labels[0]}`);
  if (!isDerSequence(block.der)) throw new PemError("der-malformed", `${what}: the PEM ${block.label} does not hold one DER SEQUENCE`);
  return block.der;
}
