import { describe, expect, test } from "vitest";
import { topicFilterFault, topicMatches, topicNameFault } from "../../src/mqtt/topic.js";

describe("topic matching (MQTT 5 §4.7)", () => {
  const cases: [string, string, boolean][] = [
    ["a/b/c", "a/b/c", true],
    ["a/b/c", "a/b", false],
    ["a/b", "a/b/c", false],
    ["a/+/c", "a/x/c", true],
    ["a/+/c", "a//c", true],
    ["a/+/c", "a/x/y/c", false],
    ["+", "a", true],
    ["+", "a/b", false],
    ["+/+", "/a", true],
    ["a/#", "a", true], // '#' includes the parent level (§4.7.1.2)
    ["a/#", "a/b/c", true],
    ["a/#", "ab", false],
    ["#", "a/b", true],
    ["#", "/", true],
    ["sport/+", "sport/", true],
    ["sport/+", "sport", false],
    ["#", "$SYS/x", false], // §4.7.2
    ["+/x", "$SYS/x", false],
    ["$SYS/#", "$SYS/x", true],
    ["$SYS/+", "$SYS/x", true],
    ["$share/g/a/+", "a/b", true],
    ["$share/g/#", "a/b", true],
    ["a/b", "a/bc", false],
    ["a/bc", "a/b", false],
    ["€/+", "€/😀", true],
  ];
  for (const [filter, topic, want] of cases) {
    test(`${filter} ${want ? "matches" : "does not match"} ${topic}`, () => {
      expect(topicMatches(filter, topic)).toBe(want);
    });
  }
});

describe("topic validation", () => {
  test("topic names refuse wildcards, emptiness and U+0000", () => {
    expect(topicNameFault("a/b")).toBeUndefined();
    expect(topicNameFault("a/+")).toBe("wildcard");
    expect(topicNameFault("#")).toBe("wildcard");
    expect(topicNameFault("")).toBe("empty");
    expect(topicNameFault("a\u0000")).toBe("null-character");
    expect(topicNameFault("a\ud800")).toBe("surrogate");
    expect(topicNameFault("x".repeat(65536))).toBe("too-long");
  });
  test("filters allow + and # only as whole levels, # only last", () => {
    for (const ok of ["#", "+", "a/+/b", "a/#", "+/+", "/", "$share/g/a/#"]) expect(topicFilterFault(ok)).toBeUndefined();
    expect(topicFilterFault("a/#/b")).toBe("bad-wildcard");
    expect(topicFilterFault("a#")).toBe("bad-wildcard");
    expect(topicFilterFault("a/b+")).toBe("bad-wildcard");
    expect(topicFilterFault("$share/g+/a")).toBe("bad-share");
    expect(topicFilterFault("$share/g")).toBe("bad-share");
    expect(topicFilterFault("")).toBe("empty");
  });
});
