// Runs src/util/utf8.ts inside XS: large ASCII runs must not overflow XS's stack.
import { decodeUtf8, encodeUtf8 } from "../../src/util/utf8.js";

(globalThis as Record<string, unknown>).decodeLarge = (args: { size: number }) => {
  const bytes = new Uint8Array(args.size).fill(0x61);
  bytes[args.size - 1] = 0x7a;
  const text = decodeUtf8(bytes);
  if (typeof text !== "string") return { fault: text.fault };
  const back = encodeUtf8(text + "é");
  return { length: text.length, last: text[text.length - 1], reencoded: back.length };
};
