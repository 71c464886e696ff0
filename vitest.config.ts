import { defineConfig } from "vitest/config";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

// Node mode: every Moddable host module specifier resolves to its desktop twin
// in host-shim/node/ (DESIGN.md §3). The list lives in host-shim/modules.json.
const modules: Record<string, string> = JSON.parse(
  readFileSync(new URL("./host-shim/modules.json", import.meta.url), "utf8"),
);
const alias = Object.entries(modules)
  .filter(([spec]) => spec !== "//")
  .map(([spec, file]) => ({
    find: new RegExp(`^${spec.replace(/[/.]/g, "\\$&")}$`),
    replacement: fileURLToPath(new URL(`./host-shim/node/${file}.ts`, import.meta.url)),
  }));

export default defineConfig({
  resolve: { alias },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    fileParallelism: true,
    // The JSON report is what .ci/run reads to print "N passed, N failed".
    reporters: ["default", "json"],
    outputFile: { json: ".vitest-results.json" },
  },
});
