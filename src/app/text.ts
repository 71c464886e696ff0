/**
 * UTF-8 text of a payload, decoded in slices. XS's native stack is small, and
 * decoding a long ASCII run in one call (src/util/utf8.ts's fast path passes the
 * run as call arguments) overflows it — an 8 KB block-wise body killed the
 * engine. A slice never ends before a continuation byte (10xxxxxx), so no
 * multi-byte sequence is split. Returns undefined for bytes that are not UTF-8.
 */
import { decodeUtf8 } from "../util/utf8.js";

export function decodeText(bytes: Uint8Array, slice = 256): string | undefined {
  let out = "";
  let start = 0;
  for (let guard = 0; start < bytes.length && guard <= bytes.length; guard++) {
    let end = Math.min(bytes.length, start + slice);
    while (end < bytes.length && end > start + 1 && (bytes[end] & 0xc0) === 0x80) end--;
    const part = decodeUtf8(bytes, start, end);
    if (typeof part !== "string") return undefined;
    out += part;
    start = end;
  }
  return out;
}
