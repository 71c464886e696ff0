/**
 * URL parsers: `mqtt://`/`mqtts://` (src/mqtt/client.ts parseMqttUrl, the
 * broker value of src/runtime/config.ts parseBrokerUrl), `coap://`
 * (src/coap/uri.ts parseCoapUri + uriOptions, RFC 7252 §6.4) and the HTTP
 * client's parseUrl (src/http/url.ts, RFC 3986 §3).
 *
 * Inputs: URL-grammar-aware text (schemes, userinfo with percent escapes,
 * IPv6 literals, ports at and past 65535, paths, queries, fragments) mutated
 * with a URL dictionary, and random text.
 *
 * Properties: each parser gives a result or its documented failure —
 * MoteError("invalid-url") for parseMqttUrl/parseCoapUri, ConfigError for
 * parseBrokerUrl, `undefined` for parseUrl — and never another exception;
 * ports are integers 1..65535; a coap URI's options encode (each Uri-Path /
 * Uri-Query ≤ 255 bytes is the option table's bound: longer is reported,
 * not thrown).
 */
import { parseCoapUri, uriOptions } from "../../src/coap/uri.js";
import { MoteError } from "../../src/errors.js";
import { parseUrl } from "../../src/http/url.js";
import { parseMqttUrl } from "../../src/mqtt/client.js";
import { ConfigError, parseBrokerUrl } from "../../src/runtime/config.js";
import { assert, showValue, type FuzzTarget, type Rng } from "../engine.js";
import { mutateText, randomText } from "../mutators.js";

export interface UrlInput {
  url: string;
}

const DICT = Object.freeze([
  "mqtt://", "mqtts://", "coap://", "coaps://", "http://", "https://", "://", "@", ":", "/", "?", "#", "&", "%", "%2",
  "%zz", "%E0", "%C3%A9", "%00", "[", "]", "[::1]", "[fe80::1%25eth0]", "65535", "65536", "0", "99999", "127.0.0.1",
  "user", "pa:ss", "é", "😀", " ", "\t", "..", "%2F", "a".repeat(300),
]);

function urlText(rng: Rng): string {
  const scheme = rng.pick(["mqtt", "mqtts", "coap", "coaps", "http", "https", "MQTT", "x"]);
  let s = `${scheme}://`;
  if (rng.bool(0.3)) s += `${rng.pick(["u", "%41", "%zz", "a%E0", ""])}${rng.bool() ? ":" + rng.pick(["p", "%2", "%C3%A9", ""]) : ""}@`;
  s += rng.pick(["h", "broker.local", "127.0.0.1", "[::1]", "[1:2::3]", "", "é.example", "999.1.1.1"]);
  if (rng.bool(0.4)) s += ":" + rng.pick(["1883", "0", "65535", "65536", "00001", "", "x"]);
  if (rng.bool(0.5)) s += rng.pick(["/", "/a/b", "/%2F/x", "//", "/a%zz"]);
  if (rng.bool(0.3)) s += "?" + rng.pick(["a=1&b", "&&", "%E0", ""]);
  if (rng.bool(0.1)) s += "#" + rng.pick(["f", ""]);
  return s;
}

export function generateUrl(rng: Rng): UrlInput {
  const mode = rng.int(4);
  if (mode === 0) return { url: randomText(rng, 40) };
  const s = urlText(rng);
  return { url: mode === 1 ? s : mutateText(rng, s, DICT, 3) };
}

function port(p: number, what: string): void {
  assert(Number.isInteger(p) && p >= 1 && p <= 65535, `${what} port ${p}`);
}

export const urlTarget: FuzzTarget<UrlInput> = {
  name: "urls",
  description: "mqtt://, coap://, http:// URLs (grammar-aware, percent escapes, IPv6, ports, mutated): result or MoteError(invalid-url)/ConfigError/undefined",
  generate: generateUrl,
  show: (i) => showValue(i.url),
  check({ url }) {
    const outcomes: string[] = [];
    try {
      const t = parseMqttUrl(url);
      port(t.port, "mqtt");
      outcomes.push("mqtt");
    } catch (e) {
      if (!(e instanceof MoteError && e.code === "invalid-url")) throw e;
    }
    try {
      const b = parseBrokerUrl(url);
      port(b.port, "broker");
      outcomes.push("broker");
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
    }
    try {
      const c = parseCoapUri(url);
      port(c.port, "coap");
      const opts = uriOptions(c);
      assert(opts.length === (c.isIp ? 0 : 1) + c.path.length + c.query.length, "uriOptions count");
      outcomes.push("coap");
    } catch (e) {
      if (!(e instanceof MoteError && e.code === "invalid-url")) throw e;
    }
    const h = parseUrl(url);
    if (h !== undefined) {
      port(h.port, "http");
      assert(h.target.startsWith("/"), "http target does not start with /");
      outcomes.push("http");
    }
    return outcomes.length ? `ok:${outcomes.join("+")}` : "rejected";
  },
};
