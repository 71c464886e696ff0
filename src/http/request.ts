/**
 * Encodes an HTTP/1.1 GET (or HEAD) request (RFC 9112 §3). One request per
 * connection ("Connection: close", §9.6) keeps the client free of
 * connection reuse state; `Accept-Encoding: identity` keeps byte offsets
 * meaningful for Range (RFC 9110 §14.2, §12.5.3).
 */
import { MoteError } from "../errors.js";
import { encodeUtf8 } from "../util/utf8.js";
import type { ParsedUrl } from "./url.js";

export interface GetRequest {
  readonly url: ParsedUrl;
  readonly method?: "GET" | "HEAD";
  /** Ask for bytes from this offset to the end ("Range: bytes=K-"); omitted when 0 or undefined. */
  readonly rangeStart?: number;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
}

const SAFE = (): RegExp => /^[\t -~]*$/; // made per call: a RegExp must not be preloaded (docs/moddable.md)

export function encodeGetRequest(request: GetRequest): Uint8Array {
  const { url } = request;
  if (!SAFE().test(url.target) || url.target.includes(" ")) throw new MoteError("bad-url", "request target has unsafe characters");
  const host = url.host.includes(":") ? `[${url.host}]` : url.host;
  const defaultPort = url.scheme === "https" ? 443 : 80;
  let text = `${request.method ?? "GET"} ${url.target} HTTP/1.1\r\nHost: ${host}${url.port === defaultPort ? "" : `:${url.port}`}\r\n`;
  if (request.rangeStart !== undefined && request.rangeStart > 0) {
    if (!Number.isSafeInteger(request.rangeStart)) throw new MoteError("bad-range", String(request.rangeStart));
    text += `Range: bytes=${request.rangeStart}-\r\n`;
  }
  for (const [k, v] of request.headers ?? []) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || !SAFE().test(v) || /[\r\n]/.test(v)) throw new MoteError("bad-header", k);
    text += `${k}: ${v}\r\n`;
  }
  text += "User-Agent: mote\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n";
  return encodeUtf8(text);
}
