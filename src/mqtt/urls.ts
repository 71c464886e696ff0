/**
 * Broker addresses: `mqtt://[user:pass@]host[:port]` and `mqtts://...` URLs,
 * alone or as a comma-separated list (a broker list, client.ts), parsed by
 * hand (XS has no URL global).
 */
import { MoteError } from "../errors.js";

/** One broker of a list: credentials here apply to it alone (over `username` / `password`). */
export interface BrokerTarget {
  host: string;
  port: number;
  tls: boolean;
  username?: string;
  password?: string;
}

/** Largest broker list a client takes. */
export const MAX_BROKERS = 8;

/** Parses a comma-separated broker list of mqtt(s):// URLs (at most MAX_BROKERS). */
export function parseMqttUrls(text: string): BrokerTarget[] {
  const parts = text.split(",").map((u) => u.trim());
  if (parts.length > MAX_BROKERS) throw new MoteError("invalid-url", `at most ${MAX_BROKERS} brokers`);
  return parts.map(parseMqttUrl);
}

/** Parses mqtt://user:pass@host:port (no URL global on XS). */
export function parseMqttUrl(url: string): BrokerTarget {
  const m = /^(mqtts?):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?(\[[^\]]+\]|[^:/?#]+)(?::(\d{1,5}))?(?:[/?#].*)?$/.exec(url);
  if (m === null) throw new MoteError("invalid-url", url);
  const tls = m[1] === "mqtts";
  const t: BrokerTarget = { host: m[4].replace(/^\[|\]$/g, ""), port: m[5] ? Number(m[5]) : tls ? 8883 : 1883, tls };
  if (!(t.port >= 1 && t.port <= 65535)) throw new MoteError("invalid-url", `port ${m[5]}`);
  if (m[2]) t.username = decodeUserInfo(m[2], "user name");
  if (m[3] !== undefined) t.password = decodeUserInfo(m[3], "password");
  return t;
}

/** RFC 3986 §2.1 percent-decoding; a bad escape or non-UTF-8 result is invalid-url, not URIError. */
function decodeUserInfo(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new MoteError("invalid-url", `bad %-escape in the ${what}`);
  }
}
