/**
 * CoAP message codec (RFC 7252 §3) — bytes <-> `CoapMessage`, nothing else.
 *
 * Theory of operation
 * - A CoAP message is one UDP datagram: a 4-byte header, a 0–8 byte token,
 *   options as (delta, length) pairs with 13/14 extensions, then 0xFF and a
 *   payload (§3, §3.1). There is no framing, so `decodeMessage` takes the whole
 *   datagram and either returns a message or throws `CoapFormatError`.
 * - Options stay raw (`{ number, value }`) in the message, sorted by number
 *   with repeats kept in order; typed views (`optionUint`, `optionStrings`,
 *   `decodeBlock` ...) read them. Registered options are checked against the
 *   §5.10 table of formats and lengths. An unknown or malformed *critical*
 *   option makes the message unacceptable (§5.4.1, §5.4.3); an unknown or
 *   malformed *elective* option is silently dropped.
 * - When the header was readable, the error carries it (`header`) so the
 *   endpoint can answer a malformed CON with RST (§4.2) or a request that has
 *   an unrecognised critical option with 4.02 Bad Option (§5.4.1).
 */
import { nameError } from "../errors.js";
import { decodeUtf8, encodeUtf8, utf8Length } from "../util/utf8.js";
import { ACK, CON, NON, RST } from "./names.js";

/** Message types (§3: T field). */
export type CoapType = "CON" | "NON" | "ACK" | "RST";
const TYPE_NAMES: readonly CoapType[] = Object.freeze([CON, NON, ACK, RST] as const);
const TYPE_NUMBERS: Readonly<Record<CoapType, number>> = Object.freeze({ CON: 0, NON: 1, ACK: 2, RST: 3 });

export interface CoapOption {
  readonly number: number;
  readonly value: Uint8Array;
}

/** One CoAP message. `code` is class*32 + detail (§3: "c.dd"). */
export interface CoapMessage {
  type: CoapType;
  code: number;
  messageId: number;
  token: Uint8Array;
  /** Sorted by number; repeated options keep their order. */
  options: CoapOption[];
  payload: Uint8Array;
}

export type CoapFormatErrorCode =
  | "too-short"
  | "bad-version"
  | "bad-token-length"
  | "reserved-class"
  | "bad-empty-message"
  | "bad-option-nibble"
  | "truncated-option"
  | "empty-payload"
  | "too-many-options"
  | "unknown-critical-option"
  | "bad-critical-option"
  | "bad-option-value"
  | "too-large"
  | "bad-link-format";

/** The header fields that were readable before the fault (for RST / 4.02). */
export interface CoapHeader {
  type: CoapType;
  code: number;
  messageId: number;
  token: Uint8Array;
}

/** A datagram that is not an acceptable CoAP message (peer fault). */
export class CoapFormatError extends Error {
  static {
    nameError(this, "CoapFormatError");
  }
  readonly code: CoapFormatErrorCode;
  readonly header: CoapHeader | undefined;
  /** For option faults: the offending option number. */
  readonly option: number | undefined;
  constructor(code: CoapFormatErrorCode, message?: string, header?: CoapHeader, option?: number) {
    super(message === undefined ? code : `${code}: ${message}`);
    this.code = code;
    this.header = header;
    this.option = option;
  }
}

// ---------------------------------------------------------------------------
// Codes (§5.8, §5.9, §12.1) and option numbers (§5.10, §12.2)

export const Method = Object.freeze({
  GET: 1,
  POST: 2,
  PUT: 3,
  DELETE: 4,
  FETCH: 5, // RFC 8132
  PATCH: 6,
  iPATCH: 7,
});
export type MethodName = keyof typeof Method;

/** `code(2, 5)` = 2.05. */
export function code(cls: number, detail: number): number {
  return (cls << 5) | detail;
}
export function codeClass(c: number): number {
  return c >> 5;
}
/** "2.05" style text for a code. */
export function codeText(c: number): string {
  return CODE_TEXTS.get(c) ?? formatCode(c);
}
function formatCode(c: number): string {
  const d = c & 31;
  return `${c >> 5}.${d < 10 ? "0" : ""}${d}`;
}

export const ResponseCode = Object.freeze({
  Created: code(2, 1),
  Deleted: code(2, 2),
  Valid: code(2, 3),
  Changed: code(2, 4),
  Content: code(2, 5),
  Continue: code(2, 31), // RFC 7959 §2.9.1
  BadRequest: code(4, 0),
  Unauthorized: code(4, 1),
  BadOption: code(4, 2),
  Forbidden: code(4, 3),
  NotFound: code(4, 4),
  MethodNotAllowed: code(4, 5),
  NotAcceptable: code(4, 6),
  RequestEntityIncomplete: code(4, 8), // RFC 7959 §2.9.2
  PreconditionFailed: code(4, 12),
  RequestEntityTooLarge: code(4, 13),
  UnsupportedContentFormat: code(4, 15),
  InternalServerError: code(5, 0),
  NotImplemented: code(5, 1),
  ServiceUnavailable: code(5, 3),
});

/** The texts of the registered codes, made once: a text built per response is garbage on XS (docs/moddable.md). */
const CODE_TEXTS: ReadonlyMap<number, string> = new Map(Object.values(ResponseCode).map((c) => [c, formatCode(c)]));

export const Option = Object.freeze({
  IfMatch: 1,
  UriHost: 3,
  ETag: 4,
  IfNoneMatch: 5,
  Observe: 6, // RFC 7641 §2
  UriPort: 7,
  LocationPath: 8,
  UriPath: 11,
  ContentFormat: 12,
  MaxAge: 14,
  UriQuery: 15,
  Accept: 17,
  LocationQuery: 20,
  Block2: 23, // RFC 7959 §2.1
  Block1: 27,
  Size2: 28,
  ProxyUri: 35,
  ProxyScheme: 39,
  Size1: 60,
  NoResponse: 258, // RFC 7967 §2
});

export const ContentFormat = Object.freeze({
  TextPlain: 0,
  LinkFormat: 40,
  Xml: 41,
  OctetStream: 42,
  Exi: 47,
  Json: 50,
  Cbor: 60,
});

/**
 * §5.10 table (plus RFC 7641, 7959, 7967): option number, min and max value
 * length, repeatable (1/0); the value format is in the comment (the decoder
 * checks lengths, formats are the accessors' business). Rows as number
 * tuples, not objects with long keys: this table ships in every bundle.
 */
type OptionRule = readonly [min: number, max: number, repeatable: number];
const OPTION_RULES: ReadonlyMap<number, OptionRule> = new Map(
  (
    [
      [Option.IfMatch, 0, 8, 1], // opaque
      [Option.UriHost, 1, 255, 0], // string
      [Option.ETag, 1, 8, 1], // opaque
      [Option.IfNoneMatch, 0, 0, 0], // empty
      [Option.Observe, 0, 3, 0], // uint
      [Option.UriPort, 0, 2, 0], // uint
      [Option.LocationPath, 0, 255, 1], // string
      [Option.UriPath, 0, 255, 1], // string
      [Option.ContentFormat, 0, 2, 0], // uint
      [Option.MaxAge, 0, 4, 0], // uint
      [Option.UriQuery, 0, 255, 1], // string
      [Option.Accept, 0, 2, 0], // uint
      [Option.LocationQuery, 0, 255, 1], // string
      [Option.Block2, 0, 3, 0], // uint
      [Option.Block1, 0, 3, 0], // uint
      [Option.Size2, 0, 4, 0], // uint
      [Option.ProxyUri, 1, 1034, 0], // string
      [Option.ProxyScheme, 1, 255, 0], // string
      [Option.Size1, 0, 4, 0], // uint
      [Option.NoResponse, 0, 1, 0], // uint
    ] as const
  ).map(([n, min, max, rep]) => [n, Object.freeze([min, max, rep] as const)]),
);

/** §5.4.6: odd option numbers are critical. */
export function isCritical(optionNumber: number): boolean {
  return (optionNumber & 1) === 1;
}
export function isKnownOption(optionNumber: number): boolean {
  return OPTION_RULES.has(optionNumber);
}

// ---------------------------------------------------------------------------
// Decode

export interface DecodeOptions {
  /** Largest datagram accepted (default 1152 + some room: 64 KiB - 1). */
  maxMessageBytes?: number;
  /** Most options in one message (default 64). */
  maxOptions?: number;
  /** Option numbers the application understands besides the registered ones. */
  extraOptions?: ReadonlySet<number>;
}
const DEFAULT_MAX_MESSAGE = 65535;
const DEFAULT_MAX_OPTIONS = 64;

/** Reads the 4-byte header and the token, or throws. */
/**
 * The message a datagram's header starts (§3), its options and payload still to come:
 * one object for the decode, where a header object and then the message were two.
 * The token views `data` (as option values and the payload do).
 */
function decodeHeader(data: Uint8Array): CoapMessage {
  if (data.length < 4) throw new CoapFormatError("too-short", `${data.length} bytes`);
  const b0 = data[0];
  if (b0 >> 6 !== 1) throw new CoapFormatError("bad-version", `version ${b0 >> 6}`); // §3: silently ignore
  const type = TYPE_NAMES[(b0 >> 4) & 3];
  const tkl = b0 & 15;
  const c = data[1];
  const messageId = (data[2] << 8) | data[3];
  // §3: lengths 9-15 are reserved and MUST be processed as a message format error.
  if (tkl > 8) throw new CoapFormatError("bad-token-length", `TKL ${tkl}`, { type, code: c, messageId, token: new Uint8Array(0) });
  if (data.length < 4 + tkl) throw new CoapFormatError("too-short", "token truncated", { type, code: c, messageId, token: new Uint8Array(0) });
  const token = tkl === 0 ? EMPTY : data.subarray(4, 4 + tkl);
  return { type, code: c, messageId, token, options: [], payload: EMPTY };
}

/** The header an error carries, made only for an error (a message that decodes needs none). */
function headerOf(head: CoapHeader): CoapHeader {
  return { type: head.type, code: head.code, messageId: head.messageId, token: head.token };
}

/**
 * Decodes one datagram; the message's option values and payload view `data`. Throws `CoapFormatError` for anything §3/§5.4 says to
 * reject; unknown or malformed elective options are dropped.
 */
export function decodeMessage(data: Uint8Array, opts?: DecodeOptions): CoapMessage {
  const maxBytes = opts?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
  if (data.length > maxBytes) {
    let h: CoapHeader | undefined;
    try {
      h = decodeHeader(data);
    } catch {
      h = undefined;
    }
    throw new CoapFormatError("too-large", `${data.length} > ${maxBytes}`, h);
  }
  const head = decodeHeader(data);
  const cls = head.code >> 5;
  // §12.1: classes 1, 6 and 7 are reserved.
  if (cls === 1 || cls >= 6) throw new CoapFormatError("reserved-class", codeText(head.code), headerOf(head));
  // §4.1: an Empty message (0.00) has no token, options or payload.
  if (head.code === 0 && (data.length !== 4 || head.token.length !== 0)) {
    throw new CoapFormatError("bad-empty-message", undefined, headerOf(head));
  }
  const maxOptions = opts?.maxOptions ?? DEFAULT_MAX_OPTIONS;
  const options = head.options;
  let count = 0;
  let i = 4 + head.token.length;
  let number = 0;
  let lastNumber = -1;
  while (i < data.length) {
    const b = data[i++];
    if (b === 0xff) {
      // §3: a marker followed by a zero-length payload is a format error.
      if (i === data.length) throw new CoapFormatError("empty-payload", undefined, headerOf(head));
      head.payload = data.subarray(i);
      break;
    }
    let delta = b >> 4;
    let length = b & 15;
    // §3.1: 15 is reserved in either nibble (outside the payload marker).
    if (delta === 15 || length === 15) throw new CoapFormatError("bad-option-nibble", undefined, headerOf(head));
    if (delta === 13) {
      if (i + 1 > data.length) throw new CoapFormatError("truncated-option", "delta", headerOf(head));
      delta = data[i++] + 13;
    } else if (delta === 14) {
      if (i + 2 > data.length) throw new CoapFormatError("truncated-option", "delta", headerOf(head));
      delta = ((data[i] << 8) | data[i + 1]) + 269;
      i += 2;
    }
    if (length === 13) {
      if (i + 1 > data.length) throw new CoapFormatError("truncated-option", "length", headerOf(head));
      length = data[i++] + 13;
    } else if (length === 14) {
      if (i + 2 > data.length) throw new CoapFormatError("truncated-option", "length", headerOf(head));
      length = ((data[i] << 8) | data[i + 1]) + 269;
      i += 2;
    }
    number += delta;
    if (number > 65535) throw new CoapFormatError("truncated-option", `option number ${number}`, headerOf(head));
    if (i + length > data.length) throw new CoapFormatError("truncated-option", `option ${number} value`, headerOf(head), number);
    if (++count > maxOptions) throw new CoapFormatError("too-many-options", `> ${maxOptions}`, headerOf(head));
    // an empty value (Content-Format 0, Observe 0, If-None-Match) is the shared empty array, not a view: a view is 4 slots on XS
    const value = length === 0 ? EMPTY : data.subarray(i, i + length);
    i += length;
    const r = OPTION_RULES.get(number);
    if (r === undefined) {
      if (opts?.extraOptions?.has(number)) options.push({ number, value });
      else if (isCritical(number)) {
        throw new CoapFormatError("unknown-critical-option", `option ${number}`, headerOf(head), number);
      } // §5.4.1: unrecognised elective options are silently ignored
      lastNumber = number;
      continue;
    }
    // §5.4.3 bad length, §5.4.5 a non-repeatable option repeated: treat like an unrecognised option.
    const ok = length >= r[0] && length <= r[1] && (r[2] === 1 || number !== lastNumber);
    lastNumber = number;
    if (!ok) {
      if (isCritical(number)) throw new CoapFormatError("bad-critical-option", `option ${number}`, headerOf(head), number);
      continue;
    }
    options.push({ number, value });
  }
  // The token, option values and the payload are views into `data` (no copies: XS copies
  // slowly); datagrams are fresh buffers from the socket, never reused.
  return head;
}

/** The header of a datagram if it has a readable one (for RST on garbage, §4.2). */
export function peekHeader(data: Uint8Array): CoapHeader | undefined {
  try {
    const h = decodeHeader(data);
    return { type: h.type, code: h.code, messageId: h.messageId, token: h.token };
  } catch (e) {
    if (e instanceof CoapFormatError) return e.header;
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Encode

const EMPTY = new Uint8Array(0);

function extLength(n: number): number {
  return n < 13 ? 0 : n < 269 ? 1 : 2;
}

/** Bytes `encodeMessage(m)` will write. */
export function encodedLength(m: CoapMessage): number {
  let n = 4 + m.token.length;
  let prev = 0;
  const options = sortedOptions(m.options);
  for (let k = 0; k < options.length; k++) {
    const o = options[k];
    const delta = o.number - prev;
    prev = o.number;
    n += 1 + extLength(delta) + extLength(o.value.length) + o.value.length;
  }
  if (m.payload.length > 0) n += 1 + m.payload.length;
  return n;
}

function sortedOptions(options: readonly CoapOption[]): readonly CoapOption[] {
  for (let i = 1; i < options.length; i++) {
    if (options[i].number < options[i - 1].number) {
      // stable sort keeps repeated options in order (§3.1)
      return options.slice().sort((a, b) => a.number - b.number);
    }
  }
  return options;
}

function nibble(n: number): number {
  return n < 13 ? n : n < 269 ? 13 : 14;
}

/** Encodes a message (options are sorted if they are not). */
export function encodeMessage(m: CoapMessage): Uint8Array {
  if (m.token.length > 8) throw new CoapFormatError("bad-token-length", `${m.token.length} bytes`);
  if (m.messageId < 0 || m.messageId > 0xffff || (m.messageId | 0) !== m.messageId) {
    throw new CoapFormatError("bad-option-value", `message id ${m.messageId}`);
  }
  const out = new Uint8Array(encodedLength(m));
  out[0] = 0x40 | (TYPE_NUMBERS[m.type] << 4) | m.token.length;
  out[1] = m.code & 0xff;
  out[2] = m.messageId >> 8;
  out[3] = m.messageId & 0xff;
  out.set(m.token, 4);
  let i = 4 + m.token.length;
  let prev = 0;
  const options = sortedOptions(m.options);
  for (let k = 0; k < options.length; k++) {
    const o = options[k];
    const delta = o.number - prev;
    const len = o.value.length;
    if (delta < 0 || o.number > 65535 || len > 65535 + 269) throw new CoapFormatError("bad-option-value", `option ${o.number}`);
    prev = o.number;
    out[i++] = (nibble(delta) << 4) | nibble(len);
    i = writeExt(out, i, delta);
    i = writeExt(out, i, len);
    out.set(o.value, i);
    i += len;
  }
  if (m.payload.length > 0) {
    out[i++] = 0xff;
    out.set(m.payload, i);
  }
  return out;
}

function writeExt(out: Uint8Array, i: number, n: number): number {
  if (n < 13) return i;
  if (n < 269) {
    out[i] = n - 13;
    return i + 1;
  }
  const v = n - 269;
  out[i] = v >> 8;
  out[i + 1] = v & 0xff;
  return i + 2;
}

/** An Empty message (§4.1): ACK, RST or ping CON. */
export function emptyMessage(type: CoapType, messageId: number): CoapMessage {
  return { type, code: 0, messageId, token: EMPTY, options: [], payload: EMPTY };
}

/** The 4 bytes of an Empty message (§4.1: code 0.00, no token, options or payload), without a message object to encode; into `out` if given. */
export function encodeEmpty(type: CoapType, messageId: number, out = new Uint8Array(4)): Uint8Array {
  out[0] = 0x40 | (TYPE_NUMBERS[type] << 4);
  out[1] = 0;
  out[2] = messageId >> 8;
  out[3] = messageId & 0xff;
  return out;
}

// ---------------------------------------------------------------------------
// Option values (§3.2)

/** Minimal-length big-endian uint (§3.2: leading zeros removed; 0 is empty). */
export function encodeUint(v: number): Uint8Array {
  if (!(v >= 0 && v <= 0xffffffff) || Math.floor(v) !== v) throw new CoapFormatError("bad-option-value", `uint ${v}`);
  const n = v === 0 ? 0 : v < 0x100 ? 1 : v < 0x10000 ? 2 : v < 0x1000000 ? 3 : 4;
  const out = new Uint8Array(n);
  for (let k = n - 1, x = v; k >= 0; k--, x = Math.floor(x / 256)) out[k] = x & 0xff;
  return out;
}

export function decodeUint(value: Uint8Array): number {
  let v = 0;
  for (let k = 0; k < value.length; k++) v = v * 256 + value[k];
  return v;
}

export function uintOption(number: number, v: number): CoapOption {
  return { number, value: encodeUint(v) };
}
export function stringOption(number: number, text: string): CoapOption {
  return { number, value: encodeUtf8(text) };
}

export function findOption(m: CoapMessage, number: number): CoapOption | undefined {
  // An index loop: a for-of makes an iterator per call on XS, and this runs per option read.
  const options = m.options;
  for (let k = 0; k < options.length; k++) if (options[k].number === number) return options[k];
  return undefined;
}
export function hasOption(m: CoapMessage, number: number): boolean {
  return findOption(m, number) !== undefined;
}
export function optionUint(m: CoapMessage, number: number): number | undefined {
  const o = findOption(m, number);
  return o === undefined ? undefined : decodeUint(o.value);
}
/** Every occurrence of a string option (Uri-Path, Uri-Query, Location-*). Invalid UTF-8 gives "\uFFFD". */
export function optionStrings(m: CoapMessage, number: number): string[] {
  const out: string[] = [];
  for (const o of m.options) {
    if (o.number !== number) continue;
    const s = decodeUtf8(o.value);
    out.push(typeof s === "string" ? s : "\ufffd");
  }
  return out;
}
export function withoutOption(options: readonly CoapOption[], number: number): CoapOption[] {
  return options.filter((o) => o.number !== number);
}
export function setOption(options: readonly CoapOption[], option: CoapOption): CoapOption[] {
  const out = withoutOption(options, option.number);
  out.push(option);
  return out;
}

/** Path of a request ("/a/b") from its Uri-Path options. */
export function uriPath(m: CoapMessage): string {
  return "/" + optionStrings(m, Option.UriPath).join("/");
}

// ---------------------------------------------------------------------------
// Block options (RFC 7959 §2.2)

export interface BlockValue {
  /** Block number. */
  num: number;
  /** More blocks follow. */
  more: boolean;
  /** Size exponent: size = 2 ** (szx + 4), 0..6. */
  szx: number;
}

export function blockSize(szx: number): number {
  return 1 << (szx + 4);
}
/** The SZX for a block size (16..1024, power of two), or throws. */
export function sizeToSzx(size: number): number {
  for (let s = 0; s <= 6; s++) if (blockSize(s) === size) return s;
  throw new CoapFormatError("bad-option-value", `block size ${size}`);
}

export function encodeBlock(b: BlockValue): Uint8Array {
  if (b.szx < 0 || b.szx > 6 || b.num < 0 || b.num > 0xfffff) throw new CoapFormatError("bad-option-value", "block");
  return encodeUint(b.num * 16 + (b.more ? 8 : 0) + b.szx);
}
/** Decodes a Block1/Block2 value. SZX 7 is reserved (§2.2) and gives undefined. */
export function decodeBlock(value: Uint8Array): BlockValue | undefined {
  const v = decodeUint(value);
  const szx = v & 7;
  if (szx === 7) return undefined;
  return { num: Math.floor(v / 16), more: (v & 8) !== 0, szx };
}
export function optionBlock(m: CoapMessage, number: number): BlockValue | undefined {
  const o = findOption(m, number);
  return o === undefined ? undefined : decodeBlock(o.value);
}

/** Uri-Path options for "/a/b" (§6.5 step 8: empty path gives none). */
export function pathOptions(path: string): CoapOption[] {
  const out: CoapOption[] = [];
  for (const seg of path.split("/")) if (seg.length > 0) out.push(stringOption(Option.UriPath, decodePercent(seg)));
  return out;
}

/** §6.5 step 8/9: percent-decoding of a URI component (to its UTF-8 text). */
export function decodePercent(s: string): string {
  if (s.indexOf("%") < 0) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 && i + 2 < s.length + 0 && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      const enc = encodeUtf8(s[i]);
      for (let k = 0; k < enc.length; k++) bytes.push(enc[k]);
    }
  }
  const r = decodeUtf8(Uint8Array.from(bytes));
  return typeof r === "string" ? r : s;
}

export { utf8Length };
