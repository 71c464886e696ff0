import { describe, expect, test } from "vitest";
import { decodeUtf8, encodeUtf8, hasLoneSurrogate, utf8Length } from "../../src/util/utf8";

describe("utf8", () => {
  test("round-trips ASCII, two-, three- and four-byte characters like the platform codec", () => {
    for (const s of ["", "abc", "é", "€uro", "𝄞 clef", "a\u0000b", "日本語/topic/#"]) {
      const ours = encodeUtf8(s);
      expect(Array.from(ours)).toEqual(Array.from(new TextEncoder().encode(s)));
      expect(utf8Length(s)).toBe(ours.length);
      expect(decodeUtf8(ours)).toBe(s);
    }
  });
  test("refuses U+0000 when asked to (MQTT §1.5.4)", () => {
    expect(decodeUtf8(new Uint8Array([0x61, 0, 0x62]), 0, 3, false)).toEqual({ fault: "null-character" });
  });
  test("refuses encoded surrogates, overlongs and truncated sequences", () => {
    expect(decodeUtf8(new Uint8Array([0xed, 0xa0, 0x80]))).toEqual({ fault: "surrogate" });
    expect(decodeUtf8(new Uint8Array([0xc0, 0x80]))).toEqual({ fault: "malformed" });
    expect(decodeUtf8(new Uint8Array([0xe0, 0x80, 0x80]))).toEqual({ fault: "malformed" });
    expect(decodeUtf8(new Uint8Array([0xe2, 0x82]))).toEqual({ fault: "malformed" });
    expect(decodeUtf8(new Uint8Array([0xf4, 0x90, 0x80, 0x80]))).toEqual({ fault: "malformed" });
  });
  test("decodes only the requested range", () => {
    expect(decodeUtf8(new Uint8Array([0x78, 0x61, 0x62, 0x79]), 1, 3)).toBe("ab");
  });
  test("finds lone surrogates but accepts pairs", () => {
    expect(hasLoneSurrogate("a\ud800b")).toBe(true);
    expect(hasLoneSurrogate("\udc00")).toBe(true);
    expect(hasLoneSurrogate("𝄞")).toBe(false);
  });
});
