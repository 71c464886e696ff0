/**
 * No import cycles among mote's own files (issue 17): every file of src/, cli/
 * and host-shim/ can be read after the files it imports. The checker
 * (scripts/import-cycles.mjs) is tested on a graph with a cycle first, so a
 * checker that finds nothing cannot pass for a codebase without cycles.
 */
import { join } from "node:path";
import { describe, expect, test } from "vitest";
// @ts-expect-error: a plain .mjs script without declarations
import { findCycles, importGraph } from "../../scripts/import-cycles.mjs";

const root = join(__dirname, "..", "..");
type Graph = Map<string, Set<string>>;
const cyclesOf = findCycles as (g: Graph) => string[][];

describe("import cycles", () => {
  test("the checker finds a two-file cycle and a longer one, and no cycle in a chain", () => {
    const g: Graph = new Map([
      ["a", new Set(["b"])],
      ["b", new Set(["a"])],
      ["c", new Set(["d"])],
      ["d", new Set(["e"])],
      ["e", new Set(["c", "f"])],
      ["f", new Set<string>()],
    ]);
    expect(cyclesOf(g)).toEqual([["a", "b"], ["c", "d", "e"]]);
    expect(cyclesOf(new Map([["x", new Set(["y"])], ["y", new Set<string>()]]))).toEqual([]);
  });

  test("the checker reads type-only and dynamic imports as imports (cli/ota.ts <-> ota-deploy.ts was such a pair)", () => {
    const g = (importGraph as (root: string, dirs: string[]) => Graph)(root, ["cli"]);
    const ota = g.get(join(root, "cli", "ota.ts"))!;
    expect(ota.has(join(root, "cli", "ota-deploy.ts"))).toBe(true); // `await import("./ota-deploy.js")`
    expect(g.get(join(root, "cli", "ota-deploy.ts"))!.has(join(root, "cli", "ota-args.ts"))).toBe(true); // `import type`
  });

  test("src/, cli/ and host-shim/ have no import cycle", () => {
    const g = (importGraph as (root: string, dirs: string[]) => Graph)(root, ["src", "cli", "host-shim"]);
    expect(g.size).toBeGreaterThan(100);
    expect(cyclesOf(g).map((c) => c.map((f) => f.slice(root.length + 1)))).toEqual([]);
  });
});
