/**
 * CoRE Link Format (RFC 6690) — parse `/.well-known/core` into typed links,
 * and write one from a list of links.
 *
 * Grammar (§2): Link = link-value *("," link-value);
 * link-value = "<" URI-Reference ">" *(";" link-param);
 * link-param = parmname ["=" (ptoken / quoted-string)].
 * The parser is a single bounded pass: at most `maxLinks` links and
 * `maxParams` parameters per link; anything else is a `CoapFormatError`
 * with code "bad-link-format".
 */
import { CoapFormatError } from "./codec.js";

export interface CoreLink {
  /** The URI-Reference between < and >. */
  readonly href: string;
  /** Resource types (§3.1 rt), split on spaces. */
  readonly rt: string[];
  /** Interface descriptions (§3.2 if). */
  readonly if: string[];
  /** Content formats (RFC 7252 §7.2.1 ct). */
  readonly ct: number[];
  /** Observable (RFC 7641 §6 obs). */
  readonly obs: boolean;
  readonly title: string | undefined;
  /** Maximum size estimate (§3.3 sz). */
  readonly sz: number | undefined;
  /** Every parameter as written; a parameter without value is `true`; repeats are kept in order. */
  readonly params: ReadonlyArray<readonly [string, string | true]>;
}

export interface LinkFormatLimits {
  maxLinks?: number; // default 256
  maxParams?: number; // default 32
}

function fail(why: string): never {
  throw new CoapFormatError("bad-link-format", why);
}

function isParamNameChar(c: string): boolean {
  return /[A-Za-z0-9!#$&+\-.^_`|~*]/.test(c);
}

/** Parses a link-format document. */
export function parseLinkFormat(text: string, limits: LinkFormatLimits = {}): CoreLink[] {
  const maxLinks = limits.maxLinks ?? 256;
  const maxParams = limits.maxParams ?? 32;
  const links: CoreLink[] = [];
  let i = 0;
  const n = text.length;
  const skipSpace = () => {
    while (i < n && (text[i] === " " || text[i] === "\t" || text[i] === "\r" || text[i] === "\n")) i++;
  };
  skipSpace();
  if (i === n) return links;
  for (;;) {
    skipSpace();
    if (text[i] !== "<") fail(`expected '<' at ${i}`);
    const close = text.indexOf(">", i + 1);
    if (close < 0) fail("unterminated '<'");
    const href = text.slice(i + 1, close);
    i = close + 1;
    const params: [string, string | true][] = [];
    skipSpace();
    while (text[i] === ";") {
      i++;
      skipSpace();
      const start = i;
      while (i < n && isParamNameChar(text[i])) i++;
      if (i === start) fail(`empty parameter name at ${i}`);
      const name = text.slice(start, i).toLowerCase();
      let value: string | true = true;
      skipSpace();
      if (text[i] === "=") {
        i++;
        skipSpace();
        if (text[i] === '"') {
          i++;
          let v = "";
          while (i < n && text[i] !== '"') {
            if (text[i] === "\\" && i + 1 < n) i++; // quoted-pair
            v += text[i++];
          }
          if (i >= n) fail("unterminated quoted string");
          i++;
          value = v;
        } else {
          const vs = i;
          while (i < n && text[i] !== ";" && text[i] !== "," && text[i] !== " ") i++;
          value = text.slice(vs, i);
        }
      }
      if (params.length >= maxParams) fail(`more than ${maxParams} parameters`);
      params.push([name, value]);
      skipSpace();
    }
    if (links.length >= maxLinks) fail(`more than ${maxLinks} links`);
    links.push(toLink(href, params));
    if (i >= n) break;
    if (text[i] !== ",") fail(`expected ',' at ${i}`);
    i++;
  }
  return links;
}

function toLink(href: string, params: [string, string | true][]): CoreLink {
  const rt: string[] = [];
  const iface: string[] = [];
  const ct: number[] = [];
  let obs = false;
  let title: string | undefined;
  let sz: number | undefined;
  for (const [name, value] of params) {
    const words = value === true ? [] : value.split(" ").filter((w) => w.length > 0);
    if (name === "rt") rt.push(...words);
    else if (name === "if") iface.push(...words);
    else if (name === "ct") {
      for (const w of words) {
        const v = Number(w);
        if (Number.isInteger(v) && v >= 0 && v <= 65535) ct.push(v);
      }
    } else if (name === "obs") obs = true;
    else if (name === "title" && value !== true && title === undefined) title = value;
    else if (name === "sz" && value !== true && sz === undefined) {
      const v = Number(value);
      if (Number.isInteger(v) && v >= 0) sz = v;
    }
  }
  return { href, rt, if: iface, ct, obs, title, sz, params };
}

/** Writes links (§5): `</a>;rt="x";ct=0;obs`. */
export function formatLinkFormat(links: ReadonlyArray<{ href: string; rt?: string[]; if?: string[]; ct?: number[]; obs?: boolean; title?: string; sz?: number }>): string {
  const parts: string[] = [];
  for (const l of links) {
    let s = `<${l.href}>`;
    if (l.rt && l.rt.length > 0) s += `;rt="${l.rt.join(" ")}"`;
    if (l.if && l.if.length > 0) s += `;if="${l.if.join(" ")}"`;
    if (l.ct && l.ct.length > 0) s += l.ct.length === 1 ? `;ct=${l.ct[0]}` : `;ct="${l.ct.join(" ")}"`;
    if (l.sz !== undefined) s += `;sz=${l.sz}`;
    if (l.title !== undefined) s += `;title="${l.title.replace(/["\\]/g, "\\$&")}"`;
    if (l.obs) s += ";obs";
    parts.push(s);
  }
  return parts.join(",");
}
