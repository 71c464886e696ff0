/**
 * Every host module that has a Node twin loads inside XS through its bridge
 * stub, and what XS sees has the twin's shape (a class stays constructible,
 * an object keeps its methods, named exports are there).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expect, test } from "vitest";
import { bundleForXs, startXs } from "../../host-shim/xs/engine.js";

const root = join(__dirname, "..", "..");
const table: Record<string, string> = JSON.parse(readFileSync(join(root, "host-shim", "modules.json"), "utf8"));
const LOCAL_IN_XS = new Set(["time"]); // served inside XS, no twin involved
const withTwin = Object.entries(table).filter(
  ([spec, file]) => spec !== "//" && !LOCAL_IN_XS.has(spec) && existsSync(join(root, "host-shim", "node", `${file}.ts`)),
);

test("each host module with a Node twin loads in XS, its default export of the same kind as the twin's", async () => {
  expect(withTwin.length).toBeGreaterThan(0);
  const dir = join(tmpdir(), "mote-stub-check");
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, `stubs-${process.pid}.ts`);
  const lines: string[] = ["const g = globalThis as any;", "g.shapes = () => ({"];
  const imports: string[] = [];
  withTwin.forEach(([spec], i) => {
    imports.push(`import * as m${i} from ${JSON.stringify(spec)};`);
    lines.push(
      `  ${JSON.stringify(spec)}: { kind: typeof (m${i} as any).default, names: Object.keys(m${i}).filter((k) => (m${i} as any)[k] !== undefined).sort() },`,
    );
  });
  lines.push("});");
  writeFileSync(entry, [...imports, ...lines].join("\n"));
  const xs = await startXs({ bundle: await bundleForXs(entry), stdio: "ignore" });
  try {
    const shapes = (await xs.call("shapes")) as Record<string, { kind: string; names: string[] }>;
    for (const [spec, file] of withTwin) {
      const twin = (await import(pathToFileURL(join(root, "host-shim", "node", `${file}.ts`)).href)) as Record<string, unknown>;
      if (twin.default === undefined) continue;
      const nodeKind = typeof twin.default;
      expect(shapes[spec]?.kind, spec).toBe(nodeKind === "object" && twin.default !== null ? "object" : nodeKind);
    }
  } finally {
    await xs.close();
  }
});

test("the timer twin's methods are callable from XS and a class export is constructible", async () => {
  const dir = join(tmpdir(), "mote-stub-check");
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, `calls-${process.pid}.ts`);
  writeFileSync(
    entry,
    `import Timer from "timer";
import { Digest } from "crypt";
const g = globalThis as any;
g.digestOf = (text: string) => { const d = new (Digest as any)("SHA256"); d.write(text); return new Uint8Array(d.close()); };
g.timerKinds = () => ({ set: typeof (Timer as any).set, clear: typeof (Timer as any).clear });
`,
  );
  const xs = await startXs({ bundle: await bundleForXs(entry), stdio: "ignore" });
  try {
    expect(await xs.call("timerKinds")).toEqual({ set: "function", clear: "function" });
    const { createHash } = await import("node:crypto");
    expect(await xs.call("digestOf", "abc")).toEqual(new Uint8Array(createHash("sha256").update("abc").digest()));
  } finally {
    await xs.close();
  }
});
