/**
 * `coap://` URIs into request options (RFC 7252 §6.4 "Decomposing URIs into
 * Options"). XS has no URL class, so this is a small parser of its own.
 */
import { MoteError } from "../errors.js";
import { Option, stringOption, type CoapOption } from "./codec.js";

export interface CoapUri {
  /** Host as written (brackets removed for IPv6). */
  host: string;
  port: number;
  /** Decoded path segments. */
  path: string[];
  /** Decoded query arguments. */
  query: string[];
  /** Whether `host` is an IP literal (no Uri-Host option, no DNS). */
  isIp: boolean;
}

export const COAP_PORT = 5683;

/** Parses `coap://host[:port][/path][?query]`; throws MoteError("invalid-url") otherwise. */
export function parseCoapUri(uri: string): CoapUri {
  // §6.4 step 1-3: absolute URI, scheme "coap", no fragment.
  const m = /^coap:\/\/(\[[0-9A-Fa-f:.]+\]|[^/:?#\[\]]+)(?::(\d{1,5}))?(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(uri);
  if (m === null) throw new MoteError("invalid-url", uri);
  let host = m[1];
  const bracketed = host.startsWith("[");
  if (bracketed) host = host.slice(1, -1);
  const port = m[2] === undefined ? COAP_PORT : Number(m[2]);
  if (!(port > 0 && port < 65536)) throw new MoteError("invalid-url", `port ${m[2]}`);
  const path = (m[3] ?? "").split("/").filter((s) => s.length > 0).map(decodeComponent);
  const query = m[4] === undefined || m[4] === "" ? [] : m[4].split("&").map(decodeComponent);
  const isIp = bracketed || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
  return { host: bracketed ? host : host.toLowerCase(), port, path, query, isIp };
}

/**
 * §6.4 steps 8-9: percent-decoding of one path segment or query argument. A
 * malformed escape ("%zz", "%2") or bytes that are not UTF-8 ("%E0") make the
 * URI invalid (RFC 3986 §2.1): invalid-url, never a URIError or the raw text.
 */
function decodeComponent(text: string): string {
  if (text.indexOf("%") < 0) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    throw new MoteError("invalid-url", `bad %-escape in "${text}"`);
  }
}

/** §6.4 steps 5-9: Uri-Host (only for a name), Uri-Path, Uri-Query. Uri-Port is omitted: it is the destination port. */
export function uriOptions(u: CoapUri): CoapOption[] {
  const out: CoapOption[] = [];
  if (!u.isIp) out.push(stringOption(Option.UriHost, u.host));
  for (const seg of u.path) out.push(stringOption(Option.UriPath, seg));
  for (const q of u.query) out.push(stringOption(Option.UriQuery, q));
  return out;
}
