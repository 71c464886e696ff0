// Import cycles among mote's own TypeScript files (issue 17: cli/ota.ts <-> cli/ota-deploy.ts was one).
//   node scripts/import-cycles.mjs [dir ...]      default: src cli host-shim; exit 1 when a cycle exists
// Every relative import counts: `import`, `import type`, `export ... from` and `import("...")`,
// since a cycle of types still makes two files that cannot be read one before the other.
// A cycle is a strongly connected component of the import graph (Tarjan's algorithm), printed as its files.
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const IMPORT = /(?:\bimport|\bexport)\s*(?:type\s+)?(?:[\w*${}\s,]+?\s+from\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

function tsFiles(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (/\.ts$/.test(name) && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** "./x.js" from `file` -> the .ts file it names, if it is one of ours. */
function resolveImport(file, spec) {
  if (!spec.startsWith(".")) return undefined;
  const base = resolve(dirname(file), spec);
  for (const c of [base.replace(/\.js$/, ".ts"), base + ".ts", join(base, "index.ts")]) if (existsSync(c)) return c;
  return undefined;
}

/** file -> files it imports (ours only). Comments are blanked first so a doc example is no import. */
export function importGraph(root, dirs) {
  const graph = new Map();
  for (const d of dirs) {
    const dir = join(root, d);
    if (!existsSync(dir)) continue;
    for (const file of tsFiles(dir)) {
      const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
      const deps = new Set();
      for (const m of text.matchAll(IMPORT)) {
        const target = resolveImport(file, m[1] ?? m[2]);
        if (target !== undefined) deps.add(target);
      }
      graph.set(file, deps);
    }
  }
  return graph;
}

/** The cycles: each strongly connected component of more than one file (or a file importing itself). */
export function findCycles(graph) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v).has(v)) cycles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v); // the graph is a few hundred files: recursion depth is bounded by it
  return cycles;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const dirs = process.argv.length > 2 ? process.argv.slice(2) : ["src", "cli", "host-shim"];
  const graph = importGraph(root, dirs);
  const cycles = findCycles(graph);
  for (const c of cycles) console.log(`cycle: ${c.map((f) => relative(root, f)).join(" <-> ")}`);
  console.log(`${graph.size} files in ${dirs.join(", ")}: ${cycles.length} import cycle(s)`);
  process.exit(cycles.length === 0 ? 0 : 1);
}
