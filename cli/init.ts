/**
 * `mote init DIR` — a project of your own on mote (docs/cookbook.md): the
 * files of templates/app/ with the project's name filled in, and a
 * package.json whose scripts are the whole workflow:
 *
 *   npm install && npm start    the app in the simulator with embedded peers
 *   npm test                    its test against the simulator API (mote/sim)
 *   npm run build:lin           mcconfig for Moddable's lin runtime (start:lin runs it headless)
 *   npm run build:esp32[s3|c3]  mcconfig for each ESP32 board
 *   npm run check:esp32         the ESP32 host-side link check, no ESP-IDF needed
 *
 * `--mote SPEC` is the dependency on mote as npm takes it (a version range,
 * `file:../mote`, a .tgz from `npm pack`); default: this mote's own folder
 * as a `file:` dependency when it is a checkout, else its version.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError, parseArgs, wantsHelp } from "./args.js";

const USAGE = `usage: mote init DIR [--name NAME] [--mote SPEC] [--force]
  writes a mote app project into DIR (created; must be empty unless --force):
  manifest.json, src/main.ts, test/app.test.ts, tsconfig.json, package.json, README.md
  --mote SPEC   how the project depends on mote (default: this mote — file:PATH for a checkout)`;

/** Versions the generated project's tools are pinned to: those mote itself is built and tested with. */
const DEV_DEPENDENCIES = ["@moddable/typings", "typescript", "vitest", "mqtt"] as const;

/** mote's own folder (package.json named "mote"), from this file, bundled (dist/node/) or not (cli/). */
function moteRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "mote") return dir;
    dir = dirname(dir);
  }
  throw Object.assign(new Error("mote's package.json not found above the CLI"), { code: "not-found" });
}

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === "" ? e.name : `${prefix}/${e.name}`;
    if (e.isDirectory()) out.push(...filesUnder(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

export interface InitOptions {
  name?: string;
  /** npm dependency spec for mote. */
  mote?: string;
  force?: boolean;
}

/** Writes the project; returns the files written (relative to `dir`). */
export function initProject(dir: string, options: InitOptions = {}): string[] {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0 && options.force !== true)
    throw Object.assign(new Error(`${dir} is not empty (use --force to write into it)`), { code: "exists" });
  const name = options.name ?? basename(target).toLowerCase().replace(/[^a-z0-9._-]+/g, "-");
  if (!/^[a-z0-9][a-z0-9._-]{0,213}$/.test(name)) throw new UsageError(`"${name}" is not a valid package name (use --name)`);
  const root = moteRoot();
  const mote = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    version: string;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const spec = options.mote ?? (existsSync(join(root, ".git")) ? `file:${root}` : `^${mote.version}`);
  const versions = { ...mote.dependencies, ...mote.devDependencies };

  const templates = join(root, "templates", "app");
  const written: string[] = [];
  const write = (rel: string, text: string) => {
    const path = join(target, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    written.push(rel);
  };
  for (const rel of filesUnder(templates)) {
    // npm leaves out files named .gitignore when it packs; the template keeps it as "gitignore".
    const out = rel === "gitignore" ? ".gitignore" : rel;
    write(out, readFileSync(join(templates, rel), "utf8").split("__NAME__").join(name));
  }

  const board = (platform: string) =>
    `npm run build:mod && mkdir -p build/moddable && MOTE=$PWD/node_modules/mote mcconfig -d -m -p ${platform} -o build/moddable manifest.json ssid=$SSID password=$PASSWORD broker=$BROKER coap=$COAP`;
  const pkg = {
    name,
    version: "0.1.0",
    private: true,
    type: "module",
    scripts: {
      start: "mote sim --app src/main.ts",
      test: "vitest run",
      typecheck: "tsc --noEmit",
      "build:mod": "mote app build src/main.ts --out dist/device",
      "build:lin": "npm run build:mod && mote app lin",
      "start:lin": "npm run build:mod && mote app lin --run",
      "build:esp32": board("esp32"),
      "build:esp32s3": board("esp32/esp32s3"),
      "build:esp32c3": board("esp32/esp32c3"),
      // the ESP32 host-side build (mcconfig, xsc, xsl for each board) without ESP-IDF: every module found and linked
      "check:esp32": "npm run build:mod && node node_modules/mote/scripts/esp32-link-check.mjs --manifest manifest.json",
    },
    dependencies: { mote: spec },
    devDependencies: Object.fromEntries(DEV_DEPENDENCIES.map((d) => [d, versions[d] ?? "*"])),
  };
  write("package.json", JSON.stringify(pkg, null, 2) + "\n");
  return written;
}

export function main(argv: string[]): number {
  if (wantsHelp(argv)) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const { options, positional } = parseArgs(argv, { name: { value: true }, mote: { value: true }, force: {} });
  if (positional.length !== 1) throw new UsageError("mote init takes one DIR");
  const files = initProject(positional[0], {
    name: typeof options.name === "string" ? options.name : undefined,
    mote: typeof options.mote === "string" ? options.mote : undefined,
    force: options.force === true,
  });
  process.stdout.write(`wrote ${files.length} files into ${positional[0]}:\n${files.map((f) => `  ${f}`).join("\n")}\nnext: cd ${positional[0]} && npm install && npm start\n`);
  return 0;
}
