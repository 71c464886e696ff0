/**
 * Minimal absolute-URL parsing for the clients (RFC 3986 §3): scheme, host
 * (IPv6 literal in brackets), port, path+query. No userinfo; no fragments
 * sent. Returns undefined for anything it does not understand.
 */
export interface ParsedUrl {
  readonly scheme: string;
  readonly host: string;
  readonly port: number;
  /** Path and query, at least "/". */
  readonly target: string;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = Object.freeze({ http: 80, https: 443, coap: 5683, coaps: 5684 });

export function parseUrl(url: string): ParsedUrl | undefined {
  if (typeof url !== "string" || url.length > 2048) return undefined;
  const m = /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9A-Fa-f:.]+\]|[^/?#:@\[\]\s]+)(?::([0-9]{1,5}))?([/?][^#\s]*)?(#.*)?$/.exec(url);
  if (m === null) return undefined;
  const scheme = m[1];
  const host = m[2].startsWith("[") ? m[2].slice(1, -1) : m[2];
  const port = m[3] !== undefined ? Number(m[3]) : DEFAULT_PORTS[scheme];
  if (port === undefined || port < 1 || port > 65535) return undefined;
  let target = m[4] ?? "/";
  if (target.startsWith("?")) target = "/" + target;
  return { scheme, host, port, target };
}
