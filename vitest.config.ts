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
    // Two files at a time, on every machine. vitest's default is one fewer than the
    // cores, which is one on the 2-core CI machine: most files spend their time
    // waiting on brokers, clusters and timers, so two run in about half the time
    // (about 10 minutes against 19 for the whole suite there) at ~1.4 cores busy.
    maxWorkers: 2,
    minWorkers: 1,
    // The JSON report is what .ci/run reads to print "N passed, N failed".
    reporters: ["default", "json"],
    outputFile: { json: ".vitest-results.json" },
  },
});
