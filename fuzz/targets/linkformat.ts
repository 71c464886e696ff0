/**
 * CoRE Link Format documents (RFC 6690 §2) into `parseLinkFormat`
 * (src/coap/linkformat.ts).
 *
 * Inputs: grammar-aware documents (links, parameters, quoted strings with
 * quoted-pairs, ptokens, whitespace), mutated with a link-format dictionary,
 * plus random text; sometimes with small `maxLinks`/`maxParams` bounds.
 *
 * Properties: a list of links or CoapFormatError("bad-link-format"); at most
 * `maxLinks` links and `maxParams` parameters each; no href or parameter
 * text longer than the document; and for documents whose values need no
 * escaping, `formatLinkFormat` of the result parses back to the same hrefs,
 * rt, if, ct, obs, sz and title.
 */
import { CoapFormatError } from "../../src/coap/codec.js";
import { formatLinkFormat, parseLinkFormat, type CoreLink } from "../../src/coap/linkformat.js";
import { assert, deepEqual, showValue, type FuzzTarget, type Rng } from "../engine.js";
import { mutateText, randomText } from "../mutators.js";

export interface LinkFormatInput {
  text: string;
  maxLinks?: number;
  maxParams?: number;
}

const DICT = Object.freeze([
  "<", ">", ";", ",", "=", '"', "\\", " ", "\t", "\r\n", "</sensors/temp>", "</a>", "<>", "rt", "if", "ct", "obs", "sz",
  "title", "anchor", "rel", '"x y"', "0", "40", "65536", "-1", "1e3", '\\"', "é", "😀", "\u0000",
]);

function paramText(rng: Rng): string {
  const name = rng.pick(["rt", "if", "ct", "obs", "sz", "title", "anchor", "rel", "x", "RT", "Title"]);
  switch (rng.int(4)) {
    case 0:
      return `;${name}`;
    case 1:
      return `;${name}=${rng.pick(["0", "40", "65535", "65536", "abc", "-3", "1.5", ""])}`;
    case 2:
      return `;${name}="${rng.pick(["a b", "core.s", "", "x\\\"y", "é €", "  ", "1 2 3"])}"`;
    default:
      return `; ${name} = "${randomText(rng, 6).replace(/["\\]/g, "")}"`;
  }
}

export function generateLinkFormat(rng: Rng): LinkFormatInput {
  let text: string;
  const mode = rng.int(6);
  if (mode === 0) text = randomText(rng, 64);
  else {
    const links: string[] = [];
    const n = rng.size(8);
    for (let k = 0; k < n; k++) {
      let s = `<${rng.pick(["/a", "/sensors/temp", "coap://h/x", "", "/é", "/a;b", "/a,b"])}>`;
      const params = rng.size(5);
      for (let p = 0; p < params; p++) s += paramText(rng);
      links.push(s);
    }
    text = links.join(rng.pick([",", ", ", ",\r\n"]));
    if (mode >= 3) text = mutateText(rng, text, DICT, 3);
  }
  const input: LinkFormatInput = { text };
  if (rng.bool(0.15)) input.maxLinks = rng.int(4);
  if (rng.bool(0.15)) input.maxParams = rng.int(4);
  return input;
}

function needsEscape(l: CoreLink): boolean {
  const words = [...l.rt, ...l.if, l.title ?? ""];
  return words.some((w) => /["\\]/.test(w)) || /[<>]/.test(l.href);
}

function essence(l: CoreLink) {
  return { href: l.href, rt: l.rt, if: l.if, ct: l.ct, obs: l.obs, sz: l.sz, title: l.title };
}

export const linkFormatTarget: FuzzTarget<LinkFormatInput> = {
  name: "linkformat",
  description: "RFC 6690 link-format text (grammar-aware, mutated, random): links within bounds or CoapFormatError; format/parse round trip",
  generate: generateLinkFormat,
  show: (input) => showValue(input),
  check(input) {
    let links: CoreLink[];
    try {
      links = parseLinkFormat(input.text, { maxLinks: input.maxLinks, maxParams: input.maxParams });
    } catch (e) {
      if (e instanceof CoapFormatError && e.code === "bad-link-format") return "error:bad-link-format";
      throw e;
    }
    assert(links.length <= (input.maxLinks ?? 256), "more links than maxLinks");
    for (const l of links) {
      assert(l.params.length <= (input.maxParams ?? 32), "more params than maxParams");
      assert(l.href.length <= input.text.length, "href longer than the document");
    }
    if (!links.some(needsEscape) && links.every((l) => l.ct.every((c) => c >= 0) && (l.sz === undefined || Number.isSafeInteger(l.sz)))) {
      // Only the typed fields survive formatting; only documents whose rt/if words have no spaces inside stay equal.
      const text = formatLinkFormat(links.map((l) => ({ href: l.href, rt: l.rt, if: l.if, ct: l.ct, obs: l.obs, title: l.title, sz: l.sz })));
      const back = parseLinkFormat(text, { maxParams: 64, maxLinks: 1024 });
      assert(deepEqual(back.map(essence), links.map(essence)), `format/parse round trip differs: ${text}`);
    }
    return links.length === 0 ? "ok:empty" : "ok:links";
  },
};
