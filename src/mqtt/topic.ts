/**
 * Topic names and filters (MQTT 5 §4.7, 3.1.1 §4.7).
 *
 * - A topic name has no wildcards, is not empty, and has no U+0000.
 * - A filter's `#` stands alone as the last level; `+` stands alone in its level.
 * - `$`-topics (§4.7.2) are not matched by a filter starting with a wildcard.
 * - `$share/{name}/{filter}` (MQTT 5 §4.8.2) matches as `{filter}`.
 */
import { MoteError } from "../errors.js";
import { hasLoneSurrogate, utf8Length } from "../util/utf8.js";

export type TopicFault = "empty" | "too-long" | "wildcard" | "null-character" | "surrogate" | "bad-wildcard" | "bad-share";

function checkText(s: string): TopicFault | undefined {
  if (s.length === 0) return "empty";
  if (s.indexOf("\u0000") >= 0) return "null-character";
  if (hasLoneSurrogate(s)) return "surrogate";
  if (s.length > 21_845 && utf8Length(s) > 65_535) return "too-long";
  return undefined;
}

/**
 * What a topic name cannot hold (U+0000, wildcards) or must be checked for
 * (surrogates: paired is fine, lone is not). One native regex test on XS: the
 * per-character loops left two slots of garbage per character (a String
 * wrapper per `charCodeAt`), for every publish.
 */
const SUSPECT_IN_NAME = /[\u0000+#\ud800-\udfff]/;
/** The last topic name topicNameFault() found valid. */
let lastValidName: string | undefined;

/** Why `topic` is not a valid topic name, or undefined if it is. */
export function topicNameFault(topic: string): TopicFault | undefined {
  // A device publishes to a few topics: the last one found valid is one string compare
  // (a native step on XS), where the RegExp test was a chunk of garbage per publish.
  if (topic === lastValidName) return undefined;
  // the common case: plain text under 21,845 characters (≤ 65,535 UTF-8 bytes whatever they are)
  const n = topic.length;
  if (n !== 0 && n <= 21_845 && !SUSPECT_IN_NAME.test(topic)) {
    lastValidName = topic;
    return undefined;
  }
  const f = checkText(topic);
  if (f) return f;
  if (topic.indexOf("+") >= 0 || topic.indexOf("#") >= 0) return "wildcard"; // §4.7.1
  return undefined;
}

/** Why `filter` is not a valid topic filter, or undefined if it is. */
export function topicFilterFault(filter: string): TopicFault | undefined {
  const f = checkText(filter);
  if (f) return f;
  let rest = filter;
  if (filter.startsWith("$share/")) {
    // §4.8.2: $share/{ShareName}/{filter}, ShareName without / + #
    const slash = filter.indexOf("/", 7);
    if (slash <= 7 || slash === filter.length - 1) return "bad-share";
    const name = filter.slice(7, slash);
    if (name.indexOf("+") >= 0 || name.indexOf("#") >= 0) return "bad-share";
    rest = filter.slice(slash + 1);
  }
  const levels = rest.split("/");
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (l === "#") {
      if (i !== levels.length - 1) return "bad-wildcard"; // §4.7.1.2
    } else if (l !== "+" && (l.indexOf("+") >= 0 || l.indexOf("#") >= 0)) return "bad-wildcard"; // §4.7.1.3
  }
  return undefined;
}

/** Throws MoteError("invalid-topic") unless `topic` is a valid topic name. */
export function assertTopicName(topic: string): void {
  const f = topicNameFault(topic);
  if (f) throw new MoteError("invalid-topic", `${JSON.stringify(topic)}: ${f}`);
}

/** Throws MoteError("invalid-filter") unless `filter` is a valid topic filter. */
export function assertTopicFilter(filter: string): void {
  const f = topicFilterFault(filter);
  if (f) throw new MoteError("invalid-filter", `${JSON.stringify(filter)}: ${f}`);
}

/** Whether `topic` (a valid name) matches `filter` (a valid filter). */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter.startsWith("$share/")) filter = filter.slice(filter.indexOf("/", 7) + 1);
  // §4.7.2: wildcards at the first level do not match topics starting with $
  if (topic.charCodeAt(0) === 0x24 && (filter.charCodeAt(0) === 0x2b || filter.charCodeAt(0) === 0x23)) return false;
  let f = 0;
  let t = 0;
  const fl = filter.length;
  const tl = topic.length;
  for (;;) {
    // at the start of a level in both
    if (f < fl && filter.charCodeAt(f) === 0x23) return true; // '#' matches the rest, parent level included
    if (f < fl && filter.charCodeAt(f) === 0x2b) {
      f++;
      while (t < tl && topic.charCodeAt(t) !== 0x2f) t++;
    } else {
      while (f < fl && t < tl && filter.charCodeAt(f) !== 0x2f && filter.charCodeAt(f) === topic.charCodeAt(t)) {
        f++;
        t++;
      }
      const fe = f === fl || filter.charCodeAt(f) === 0x2f;
      const te = t === tl || topic.charCodeAt(t) === 0x2f;
      if (!fe || !te) return false;
    }
    if (f === fl) return t === tl;
    if (t === tl) {
      // topic ended; filter "a/#" still matches "a" (§4.7.1.2)
      return filter.charCodeAt(f) === 0x2f && f + 2 === fl && filter.charCodeAt(f + 1) === 0x23;
    }
    f++; // skip '/'
    t++;
  }
}
