/**
 * UTF-8 without host modules.
 *
 * Moddable has no global TextEncoder/TextDecoder (they are the host modules
 * `text/encoder` and `text/decoder`), and protocol rules need more than a
 * lenient decoder anyway: MQTT §1.5.4 forbids U+0000 and surrogate code
 * points in UTF-8 strings, so decoding here reports exactly why it failed.
 */

/** Bytes decoded per `String.fromCharCode.apply` call on the ASCII fast path. */
const ASCII_RUN = 256;

/**
 * XS's own UTF-8 encoder, `ArrayBuffer.fromString` (an XS built-in, absent from V8),
 * used where it exists. Why: on XS every property read on a primitive string
 * (`text.length`, `text.charCodeAt(i)`) makes a String wrapper on the heap, so the
 * character loops below leave ~4 slots of garbage per character: a 273-byte telemetry
 * record made ~2,160 slots, most of a telemetry message's garbage (bench/RESULTS.md,
 * "MQTT on Moddable's runtime"). Called as a method (it builds its result from `this`).
 * XS writes a surrogate pair as 4 bytes and a lone surrogate as 3 (ED A0..BF xx), the
 * lengths utf8Length counts; withoutSurrogates makes the latter U+FFFD, as writeUtf8 does.
 */
const xsArrayBuffer = (ArrayBuffer as unknown as { fromString?: (text: string) => ArrayBuffer }).fromString
  ? (ArrayBuffer as unknown as { fromString(text: string): ArrayBuffer })
  : undefined;

/** Why `decodeUtf8` refused its input. */
export type Utf8Fault = "malformed" | "null-character" | "surrogate";

/** Number of bytes `encodeUtf8(text)` will write. */
export function utf8Length(text: string): number {
  if (xsArrayBuffer !== undefined) return xsArrayBuffer.fromString(text).byteLength;
  let n = 0;
  for (let i = 0, length = text.length; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < length && isLowSurrogate(text.charCodeAt(i + 1))) {
      n += 4;
      i++;
    } else n += 3; // a lone surrogate is written as U+FFFD (3 bytes)
  }
  return n;
}

/** Whether `text` holds a lone (unpaired) surrogate — not representable in UTF-8. */
export function hasLoneSurrogate(text: string): boolean {
  for (let i = 0, length = text.length; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      if (i + 1 < length && isLowSurrogate(text.charCodeAt(i + 1))) i++;
      else return true;
    } else if (isLowSurrogate(c)) return true;
  }
  return false;
}

/**
 * Writes `text` as UTF-8 into `out` at `offset` and returns the offset after it.
 * The caller sizes `out` with `utf8Length`. Lone surrogates become U+FFFD;
 * callers that must refuse them check `hasLoneSurrogate` first.
 */
export function writeUtf8(text: string, out: Uint8Array, offset: number): number {
  if (xsArrayBuffer !== undefined) {
    const bytes = withoutSurrogates(new Uint8Array(xsArrayBuffer.fromString(text)));
    out.set(bytes, offset);
    return offset + bytes.length;
  }
  let o = offset;
  for (let i = 0, length = text.length; i < length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[o++] = c;
      continue;
    }
    if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < length && isLowSurrogate(text.charCodeAt(i + 1))) {
      c = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
      out[o++] = 0xf0 | (c >> 18);
      out[o++] = 0x80 | ((c >> 12) & 0x3f);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    out[o++] = 0xe0 | (c >> 12);
    out[o++] = 0x80 | ((c >> 6) & 0x3f);
    out[o++] = 0x80 | (c & 0x3f);
  }
  return o;
}

/** `text` as a new UTF-8 byte array. */
export function encodeUtf8(text: string): Uint8Array {
  if (xsArrayBuffer !== undefined) return withoutSurrogates(new Uint8Array(xsArrayBuffer.fromString(text)));
  const out = new Uint8Array(utf8Length(text));
  writeUtf8(text, out, 0);
  return out;
}

/** A lone surrogate as XS encodes it (ED A0..BF xx: never valid UTF-8, RFC 3629 §3) becomes U+FFFD (EF BF BD). */
function withoutSurrogates(bytes: Uint8Array): Uint8Array {
  for (let i = 0; i + 2 < bytes.length; i++)
    if (bytes[i] === 0xed && bytes[i + 1] >= 0xa0) {
      bytes[i] = 0xef;
      bytes[i + 1] = 0xbf;
      bytes[i + 2] = 0xbd;
      i += 2;
    }
  return bytes;
}

/**
 * Decodes `bytes[start, end)` as strict UTF-8 (RFC 3629 §3: no overlongs,
 * no surrogates, nothing above U+10FFFF). Returns the string, or a fault.
 * With `allowNull` false, U+0000 is a fault too (MQTT §1.5.4).
 */
export function decodeUtf8(
  bytes: Uint8Array,
  start = 0,
  end = bytes.length,
  allowNull = true,
): string | { fault: Utf8Fault } {
  let s = "";
  let i = start;
  // Fast path for ASCII runs: build in chunks to keep allocations low on XS.
  while (i < end) {
    const b = bytes[i];
    if (b < 0x80) {
      if (b === 0 && !allowNull) return { fault: "null-character" };
      // At most ASCII_RUN bytes per apply(): each byte becomes a call
      // argument, and XS's stack is small (a whole 8 KB run overflows it).
      let j = i + 1;
      const limit = Math.min(end, i + ASCII_RUN);
      while (j < limit && bytes[j] < 0x80 && (allowNull || bytes[j] !== 0)) j++;
      s += String.fromCharCode.apply(null, bytes.subarray(i, j) as unknown as number[]);
      i = j;
      continue;
    }
    let cp: number;
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      cp = b & 0x1f;
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      cp = b & 0x0f;
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      cp = b & 0x07;
      need = 3;
      min = 0x10000;
    } else return { fault: "malformed" };
    if (i + need >= end) return { fault: "malformed" }; // truncated sequence
    for (let k = 1; k <= need; k++) {
      const cont = bytes[i + k];
      if ((cont & 0xc0) !== 0x80) return { fault: "malformed" };
      cp = (cp << 6) | (cont & 0x3f);
    }
    if (cp < min || cp > 0x10ffff) return { fault: "malformed" };
    if (cp >= 0xd800 && cp <= 0xdfff) return { fault: "surrogate" };
    if (cp >= 0x10000) {
      const v = cp - 0x10000;
      s += String.fromCharCode(0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
    } else s += String.fromCharCode(cp);
    i += need + 1;
  }
  return s;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
