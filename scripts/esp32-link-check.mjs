#!/usr/bin/env node
/**
 * ESP32 link check: runs the Moddable SDK's host-side build steps for the device
 * program on each ESP32 board, with no ESP-IDF installed, and checks the linked result.
 *
 *   npm run build && npm run esp32:check
 *   node scripts/esp32-link-check.mjs [--board esp32,esp32s3,esp32c3] [--build debug,release]
 *                                     [--keep DIR] [--json FILE] [--results FILE] [--jobs N] [--manifest FILE]
 *
 * --results FILE writes the size table as a Markdown section (bench/RESULTS-esp32.md, which
 * `npm run bench:results` appends to bench/RESULTS.md); its figures are copied from the run.
 *
 * The manifest's folder (manifest*.json, dist/) is copied first, so that a concurrent
 * `npm run build` cannot change what is linked; boards/ and native/ are read through MOTE.
 *
 * Per board x build:
 *  1. `mcconfig [-d] -p <platform> -o <out> manifest.json ssid=x password=y` with MOTE=<repo>.
 *     Without -m, mcconfig only writes the makefile and the generated headers.
 *  2. `make -f <tmp>/makefile <tmp>/mc.xs.c [<tmp>/mc.resources.c]`: xsc of every module,
 *     then xsl's preload link into mc.xs.c (and mcrez when the makefile has that target).
 *     IDF_PATH points at a throwaway git repository with a tag, because the makefile only
 *     probes it with `git describe`; sdkconfig.h (made by idf.py) is marked as up to date
 *     with make -o, since nothing on this path reads it.
 *  3. Checks on the generated files:
 *     - the link succeeded with no missing module (any "not found" or error line fails);
 *     - boot: every preloaded `setup/*` module runs before the program starts
 *       (modRunMachineSetup in $MODDABLE/xs/platforms/mc/xsHosts.c imports each one and
 *       starts main only when all have called done()). None may come from outside this
 *       repository: Moddable's `setup/network` would join WiFi and wait for SNTP before
 *       mote's supervisor runs;
 *     - main is dist/device/main.js, mote's modules are preloaded, and the board modules
 *       mote needs are linked (boards/esp32-common/manifest.json);
 *     - the board's partitions.csv and sdkconfig lines reached the build (boards/<board>/).
 *  4. Sizes, in bytes (see printSizes below for what each number is).
 *
 * Exit status: 0 when every build passes, 1 when one fails, 2 on a usage or setup error.
 * The last line is "esp32 link check: PASS" or "esp32 link check: FAIL (...)".
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** mcconfig -p value per board (boards/<board>/ holds the board fragment). */
export const BOARDS = { esp32: "esp32", esp32s3: "esp32/esp32s3", esp32c3: "esp32/esp32c3" };
export const BUILDS = ["debug", "release"];
/** Modules every ESP32 board must link, and those that must be preloaded (boards/esp32-common/manifest.json). */
const REQUIRED = ["main", "mote/ota-boot", "esp32/ota", "preference", "flash", "mc/config"];
const PRELOADED = ["mote/ota-boot", "esp32/ota"];
/**
 * Boot modules (setup/*) from outside this repository that may stay, and why. Each must
 * also import no network module (checked from its source). Moddable's sub-board targets
 * (build/devices/esp32/targets/esp32s3, esp32c3) preload setup/target: it defines the
 * Host.LED/Host.Button globals and calls done() at once, but with config.led.rainbow
 * (Moddable's esp32c3 target sets it) it animates the LED from a 33 ms timer for ever:
 * the board fragments set it false, and the check reads the generated mc.config.js.
 */
const ALLOWED_SETUP = {
  "setup/target": {
    why: "Moddable's sub-board setup: Host globals, calls done() at once, no network",
    refuse: (mcConfig) => (/"rainbow":\s*true/.test(mcConfig) ? "config.led.rainbow is true: it would run Moddable's LED animation every 33 ms next to mote" : undefined),
  },
};
/** Imports that make a boot module a network one (it would join WiFi or wait on the network). */
const NETWORK_IMPORT = /^(wifi|net|sntp|socket|dns.*|embedded:network\/.*|embedded:io\/socket\/.*|setup\/network)$/;
/** The ESP-IDF tag the fake IDF_PATH reports (the IDF Moddable 8.2.3 expects: v6.0). */
const IDF_TAG = "v6.0.2";
/** Bytes per XS slot on the 32-bit ESP32 cores (next pointer, ID/flag/kind, 8-byte value). */
const SLOT_BYTES = 16;

function usage(message) {
  console.error(`esp32-link-check: ${message}`);
  console.error("usage: node scripts/esp32-link-check.mjs [--board esp32,esp32s3,esp32c3] [--build debug,release] [--keep DIR] [--json FILE] [--results FILE] [--jobs N] [--manifest FILE]");
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { boards: Object.keys(BOARDS), builds: [...BUILDS], keep: undefined, json: undefined, jobs: 2, manifest: join(root, "manifest.json") };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${arg} needs a value`));
    if (arg === "--board") opts.boards = value().split(",");
    else if (arg === "--build") opts.builds = value().split(",");
    else if (arg === "--keep") opts.keep = resolve(value());
    else if (arg === "--json") opts.json = resolve(value());
    else if (arg === "--results") opts.results = resolve(value());
    else if (arg === "--jobs") opts.jobs = Number(value());
    else if (arg === "--manifest") opts.manifest = resolve(value());
    else if (arg === "-h" || arg === "--help") usage("help");
    else usage(`unknown argument ${arg}`);
  }
  for (const b of opts.boards) if (!(b in BOARDS)) usage(`unknown board ${b} (${Object.keys(BOARDS).join(", ")})`);
  for (const b of opts.builds) if (!BUILDS.includes(b)) usage(`unknown build ${b} (${BUILDS.join(", ")})`);
  if (!Number.isInteger(opts.jobs) || opts.jobs < 1 || opts.jobs > 8) usage("--jobs: 1..8");
  return opts;
}

/** Runs a command; resolves with its exit status and combined output (never rejects). */
function run(cmd, args, options) {
  return new Promise((done) => {
    let out = "";
    const child = spawn(cmd, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", (e) => done({ status: 127, out: out + String(e) }));
    child.on("close", (status, signal) => done({ status: status ?? 128, out: out + (signal ? `\nkilled by ${signal}` : "") }));
  });
}

/** Environment with the SDK tools on PATH; exits 2 when the SDK is missing. */
function sdkEnv(idfPath) {
  const moddable = process.env.MODDABLE;
  if (!moddable || !existsSync(join(moddable, "tools", "mcconfig.js")))
    usage("MODDABLE must point at the Moddable SDK 8.2.3 (see ../shared/moddable/setup)");
  const bin = join(moddable, "build", "bin", "lin", "release");
  const PATH = existsSync(join(bin, "xsl")) ? `${bin}:${process.env.PATH}` : process.env.PATH;
  for (const tool of ["mcconfig", "xsc", "xsl", "mcrez", "make", "git"])
    if (spawnSync("sh", ["-c", `command -v ${tool}`], { env: { ...process.env, PATH } }).status !== 0) usage(`${tool} not found on PATH`);
  return { ...process.env, PATH, MODDABLE: moddable, MOTE: root, IDF_PATH: idfPath };
}

/** A git repository with one tag: all the generated makefile asks of IDF_PATH. */
function fakeIdf(dir) {
  mkdirSync(dir, { recursive: true });
  const git = (...args) => {
    const r = spawnSync("git", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) usage(`git ${args[0]} failed in ${dir}: ${r.stderr}`);
  };
  git("init", "-q");
  git("-c", "user.name=mote", "-c", "user.email=mote@localhost", "commit", "-q", "--allow-empty", "-m", "ESP-IDF stand-in for the link check");
  git("tag", IDF_TAG);
}

function findMakefile(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findMakefile(path);
      if (found) return found;
    } else if (entry.name === "makefile") return path;
  }
  return undefined;
}

/** Values of makefile variables, expanded by make itself. */
async function makeVars(makefile, names, env) {
  const r = await run("make", ["-s", "-j1", "MAKEFLAGS_JOBS=--jobs=1", "-f", makefile, "--eval", "print-%: ; @echo '@@$*=$($*)'", ...names.map((n) => `print-${n}`)], { env });
  const vars = {};
  for (const m of r.out.matchAll(/^@@(\w+)=(.*)$/gm)) vars[m[1]] = m[2];
  const missing = names.filter((n) => !(n in vars));
  if (r.status !== 0 || missing.length) throw new Error(`make could not read ${missing.join(", ") || names.join(", ")} from ${makefile}:\n${r.out.slice(0, 600)}`);
  return vars;
}

/** xsl/xsc/mcconfig output lines that mean failure. */
function errorLines(out) {
  return out
    .split("\n")
    .filter((l) => /not found|error|\*\*\*|invalid manifest/i.test(l) && !/warning/i.test(l) && !/^# (xsc|xsid|copy) /.test(l));
}

/** Scripts of the linked archive (gxScripts in mc.xs.c): path and whether its code is in the archive. */
export function linkedScripts(mcxs) {
  const start = mcxs.indexOf("static const txScript gxScripts[mxScriptsCount] = {");
  if (start < 0) throw new Error("mc.xs.c has no gxScripts table");
  const end = mcxs.indexOf("\n};", start);
  const scripts = [];
  for (const m of mcxs.slice(start, end).matchAll(/\{ (\w+), NULL, 0, (?:\(txS1\*\))?(\w+), (\d+), NULL, 0, "([^"]+)"/g))
    scripts.push({ path: m[4], host: m[1] !== "NULL", codeBytes: Number(m[3]) });
  return scripts;
}

/** Module name -> source file, from the makefile's xsc rules ($(MODULES_DIR)/name.xsb: source). */
export function moduleSources(makefile) {
  const sources = {};
  for (const m of makefile.matchAll(/^\$\(MODULES_DIR\)\/(.+)\.xsb: (\S+)/gm)) sources[m[1].replace(/^~\.embedded\//, "embedded:")] = m[2];
  return sources;
}

/** Preloaded modules, from the makefile's PRELOADS (the -p list given to xsl). */
export function preloads(makefile) {
  const start = makefile.indexOf("\nPRELOADS =");
  if (start < 0) return [];
  const block = makefile.slice(start, makefile.indexOf("\n\n", start + 1));
  return [...block.matchAll(/-p (\S+)\.xsb/g)].map((m) => m[1].replace(/^~\.embedded\//, "embedded:"));
}

/**
 * Bytes the linked archive places in flash, counted from mc.xs.c for a 32-bit target:
 * heap and stack slots (16 bytes each), every string literal (the byte code and strings
 * the slots point to, +1 NUL each), the code of modules that are not preloaded (gxCode),
 * the key tables, host builders (12 bytes) and script records (36 bytes). Checked against
 * mc.xs.c compiled with rv32 GCC -Os (the esp-idf-check compiler): within 1 % of the
 * object's non-debug sections (bench/RESULTS.md).
 */
export function archiveBytes(mcxs) {
  const count = (name) => Number(mcxs.match(new RegExp(`#define ${name} (\\d+)`))?.[1] ?? 0);
  const slots = count("mxHeapCount") + count("mxStackCount");
  const keys = count("mxKeysCount");
  let strings = 0;
  for (const line of mcxs.split("\n")) {
    if (line.startsWith("#")) continue;
    for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"/g)) strings += cLength(m[1]) + 1;
  }
  let code = 0;
  for (const m of mcxs.matchAll(/^static const txU1 gxCode\d+\[(\d+)\] = \{/gm)) code += Number(m[1]);
  let builders = 0;
  for (const m of mcxs.matchAll(/^static const xsHostBuilder gxBuilders\d*\[(\d+)\] = \{/gm)) builders += Number(m[1]);
  const tables = keys * (4 + 2) + (count("mxNamesCount") + count("mxSymbolsCount") + count("mxSlotCount") + count("mxBigIntCount")) * 4;
  return { slots, keys, total: slots * SLOT_BYTES + strings + code + tables + builders * 12 + count("mxScriptsCount") * 36 };
}

/** Length in bytes of a C string literal body. */
function cLength(body) {
  let n = 0;
  for (let i = 0; i < body.length; i++, n++) {
    if (body[i] !== "\\") continue;
    const c = body[++i];
    if (c === "x") while (i + 1 < body.length && /[0-9a-fA-F]/.test(body[i + 1])) i++;
    else if (/[0-7]/.test(c)) for (let k = 0; k < 2 && /[0-7]/.test(body[i + 1] ?? ""); k++) i++;
  }
  return n;
}

/** One board x build: generate, link, check. Returns { ok, problems[], sizes, log }. */
async function checkOne(board, build, work, env, manifest) {
  const label = `${board} ${build}`;
  const out = join(work, `${board}-${build}`);
  mkdirSync(out, { recursive: true });
  const log = [];
  const problems = [];
  const began = Date.now();

  const args = [...(build === "debug" ? ["-d"] : []), "-p", BOARDS[board], "-o", out, manifest, "ssid=x", "password=y"];
  log.push(`$ MOTE=${root} mcconfig ${args.join(" ")}`);
  const conf = await run("mcconfig", args, { cwd: root, env });
  log.push(conf.out.trimEnd());
  if (conf.status !== 0 || errorLines(conf.out).length) {
    problems.push(`mcconfig failed (status ${conf.status}): ${errorLines(conf.out).join(" | ") || "see log"}`);
    return { label, ok: false, problems, log };
  }
  const makefilePath = findMakefile(join(out, "tmp"));
  if (!makefilePath) {
    problems.push(`mcconfig wrote no makefile under ${out}/tmp`);
    return { label, ok: false, problems, log };
  }
  const tmp = dirname(makefilePath);
  const makefile = readFileSync(makefilePath, "utf8");
  const vars = await makeVars(makefilePath, ["SDKCONFIG_H", "PRELOADS", "STRIPS", "CREATION", "MODULES", "MODULES_DIR"], env);
  const targets = [join(tmp, "mc.xs.c")];
  if (/^\$\(TMP_DIR\)\/mc\.resources\.c:/m.test(makefile)) targets.push(join(tmp, "mc.resources.c"));
  const makeArgs = ["-f", makefilePath, "-o", vars.SDKCONFIG_H, "MAKEFLAGS_JOBS=--jobs=1", ...targets];
  log.push(`$ make ${makeArgs.join(" ")}`);
  const made = await run("make", makeArgs, { cwd: root, env });
  // xsc/xsid progress and xsl's preload notes ("no const", "not frozen") are left out of the log
  const notes = made.out.split("\n").filter((l) => /^### warning: .*: (no const|not frozen)$/.test(l)).length;
  log.push(made.out.split("\n").filter((l) => !/^# (xsc|xsid) /.test(l) && !/^### warning: .*: (no const|not frozen)$/.test(l)).join("\n").trimEnd());
  if (notes) log.push(`(${notes} xsl notes "no const"/"not frozen" left out)`);
  const errors = errorLines(made.out);
  if (made.status !== 0 || errors.length || !existsSync(targets[0])) {
    problems.push(`link failed (make status ${made.status}): ${errors.join(" | ") || "see log"}`);
    return { label, ok: false, problems, log, tmp };
  }

  // what was linked
  const mcxs = readFileSync(targets[0], "utf8");
  const scripts = linkedScripts(mcxs);
  const paths = new Set(scripts.map((s) => s.path));
  const sources = moduleSources(makefile);
  const preloaded = preloads(makefile);
  const dir = dirname(manifest) + "/";
  const isOurs = (src) => src.startsWith(root + "/") || src.startsWith(dir);
  for (const name of REQUIRED) if (!paths.has(name)) problems.push(`module "${name}" is not in the linked archive`);
  for (const name of PRELOADED) if (!preloaded.includes(name)) problems.push(`module "${name}" is not preloaded`);
  const mainSource = join(dir, "dist", "device", "main.js");
  if (sources.main !== mainSource) problems.push(`module "main" comes from ${sources.main ?? "nowhere"}, not ${mainSource}`);
  // mote's own modules: every linked module compiled from a file of this repository
  const ours = scripts.map((s) => s.path).filter((p) => sources[p] && isOurs(sources[p]));
  // mote's library: the manifest's own dist/ (mote's manifest.json), or mote's dist/lib/ through
  // $(MOTE)/manifest_lib.json (an app's manifest, e.g. a `mote init` project).
  const dists = [join(dir, "dist") + "/", join(root, "dist", "lib") + "/"];
  if (!ours.some((p) => preloaded.includes(p) && dists.some((d) => sources[p].startsWith(d))))
    problems.push("no module of mote's from dist/ is preloaded");
  // the board's own fragment reached this build: its partition table and sdkconfig lines
  const proj = join(tmp, `xsProj-${board}`);
  const boardDir = join(root, "boards", board);
  const table = join(proj, "partitions.csv");
  if (!existsSync(table) || readFileSync(table, "utf8") !== readFileSync(join(boardDir, "partitions.csv"), "utf8"))
    problems.push(`the partition table of this build is not boards/${board}/partitions.csv`);
  const sdkconfig = existsSync(join(proj, "sdkconfig.mc")) ? readFileSync(join(proj, "sdkconfig.mc"), "utf8").split("\n") : [];
  const wanted = readFileSync(join(boardDir, "sdkconfig", "sdkconfig.defaults"), "utf8").split("\n").filter((l) => /^CONFIG_/.test(l));
  const absent = wanted.filter((l) => !sdkconfig.includes(l));
  if (absent.length) problems.push(`the sdkconfig of this build lacks boards/${board}/sdkconfig lines: ${absent.join(" ")}`);
  // boot: setup/* modules run before main (xs/platforms/mc/xsHosts.c, modRunMachineSetup)
  const setups = scripts.filter((s) => s.path.startsWith("setup/"));
  for (const s of setups) {
    const src = sources[s.path] ?? "(unknown source)";
    if (isOurs(src)) continue;
    const imports = existsSync(src) ? [...readFileSync(src, "utf8").matchAll(/^\s*import\s[^"']*["']([^"']+)["']/gm)].map((m) => m[1]) : [];
    const network = imports.filter((i) => NETWORK_IMPORT.test(i));
    if (!(s.path in ALLOWED_SETUP) || network.length) {
      problems.push(`"${s.path}" (${src}${network.length ? `, imports ${network.join(", ")}` : ""}) is linked and runs at boot before mote's main: only mote may own the boot`);
      continue;
    }
    const refused = ALLOWED_SETUP[s.path].refuse(existsSync(join(tmp, "mc.config.js")) ? readFileSync(join(tmp, "mc.config.js"), "utf8") : "");
    if (refused) problems.push(`"${s.path}" (${src}): ${refused}`);
  }

  // sizes
  const sizes = { board, build, seconds: 0 };
  const xsb = (p) => join(vars.MODULES_DIR, `${p.replace(/^embedded:/, "~.embedded/")}.xsb`);
  sizes.moteXsb = ours.reduce((n, p) => n + statSync(xsb(p)).size, 0);
  sizes.moteModules = ours.length;
  sizes.mcxsC = mcxs.length;
  const all = archiveBytes(mcxs);
  sizes.archive = all.total;
  sizes.slots = all.slots;
  // the same link without mote's own modules: the difference is mote's share of the archive
  const alone = join(out, "without-mote");
  mkdirSync(alone, { recursive: true });
  const ourXsb = new Set(ours.map(xsb));
  const ourPre = new Set(ours.map((p) => `${p.replace(/^embedded:/, "~.embedded/")}.xsb`));
  const words = (s) => s.split(/\s+/).filter(Boolean).map((w) => w.replace(/^"(.*)"$/, "$1"));
  const pre = words(vars.PRELOADS).filter((w, i, a) => !(w === "-p" && ourPre.has(a[i + 1])) && !ourPre.has(w));
  const xslArgs = ["-b", vars.MODULES_DIR, "-o", alone, ...pre, ...words(vars.STRIPS), ...words(vars.CREATION), ...words(vars.MODULES).filter((m) => !ourXsb.has(m))];
  const base = await run("xsl", xslArgs, { cwd: root, env });
  if (base.status !== 0 || !existsSync(join(alone, "mc.xs.c"))) {
    problems.push(`xsl without mote failed (status ${base.status}): ${errorLines(base.out).join(" | ") || base.out.slice(-400)}`);
  } else {
    const without = archiveBytes(readFileSync(join(alone, "mc.xs.c"), "utf8"));
    sizes.moteShare = all.total - without.total;
    sizes.moteSlots = all.slots - without.slots;
    sizes.runtimeArchive = without.total;
  }
  sizes.preloaded = preloaded.length;
  sizes.scripts = scripts.length;
  sizes.setup = setups.map((s) => `${s.path} (${sources[s.path] && isOurs(sources[s.path]) ? "mote" : "Moddable"})`);
  sizes.seconds = Math.round((Date.now() - began) / 100) / 10;
  log.push(`preloaded (${preloaded.length}): ${preloaded.join(" ")}`);
  log.push(`boot modules (setup/*): ${setups.map((s) => s.path).join(" ") || "none"}`);
  return { label, ok: problems.length === 0, problems, log, sizes, tmp };
}

const kb = (n) => `${n.toLocaleString("en-US")} B (${(n / 1024).toFixed(1)} KB)`;

function printSizes(results) {
  console.log("\nSizes (bytes). mote .xsb: the xsc bytecode of mote's own modules (every linked module built from this repository: dist/, native/), summed, before the link.");
  console.log("archive: flash data of the whole linked archive mc.xs.c (XS slots x 16 B + the byte strings and code they point to + key tables; counted from the C source).");
  console.log("mote share: archive minus the same xsl link without mote's own modules (what mote adds to the archive, its preloaded objects included).");
  console.log("| board | build | mote .xsb (modules) | archive | mote share | preloaded modules | boot (setup/*) modules |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of results) {
    const s = r.sizes;
    if (!s) continue;
    console.log(`| ${s.board} | ${s.build} | ${kb(s.moteXsb)} (${s.moteModules}) | ${kb(s.archive)} | ${s.moteShare === undefined ? "-" : kb(s.moteShare)} | ${s.preloaded} | ${s.setup.join(", ") || "none"} |`);
  }
}

/** The size table as a Markdown section for bench/RESULTS.md (figures from this run only). */
function resultsMarkdown(results, seconds) {
  const rows = results.filter((r) => r.sizes).map((r) => {
    const s = r.sizes;
    return `| ${s.board} | ${s.build} | ${s.moteXsb.toLocaleString("en-US")} (${s.moteModules} modules) | ${s.archive.toLocaleString("en-US")} | ${(s.moteShare ?? 0).toLocaleString("en-US")} | ${(s.runtimeArchive ?? 0).toLocaleString("en-US")} | ${s.preloaded} | ${s.setup.join(", ") || "none"} |`;
  });
  return [
    "# ESP32 build: linked bytecode sizes",
    "",
    `Generated by \`npm run build && node scripts/esp32-link-check.mjs --results bench/RESULTS-esp32.md\` on ${new Date().toISOString().slice(0, 10)} (Moddable SDK 8.2.3 host tools, no ESP-IDF; ${results.length} builds in ${Math.round(seconds)} s).`,
    "Bytes. mote .xsb: xsc bytecode of mote's own modules (dist/, native/, boards/), summed, before the link.",
    "archive: flash data of the whole linked XS archive mc.xs.c (preloaded heap and stack slots at 16 B, the byte code and strings",
    "they point to, key tables), counted from the generated C; within 1 % of the object GCC makes of it (docs/moddable.md).",
    "mote share: archive minus the same xsl link without mote's modules. runtime part: that link without mote (Moddable's modules).",
    "boot modules: the preloaded setup/* modules, which run before main, and whose they are.",
    "",
    "| board | build | mote .xsb | archive | mote share | runtime part | preloaded modules | boot modules |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(join(dirname(opts.manifest), "dist", "device", "main.js"))) usage("dist/device/main.js missing: run npm run build first");
  const work = opts.keep ?? mkdtempSync(join(tmpdir(), "mote-esp32-link-"));
  if (opts.keep) rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // The builds read a copy of the manifest's folder (its manifest*.json and dist/), taken
  // now: a build of dist/ running meanwhile (npm test's pretest in CI) cannot change it.
  const copy = join(work, "mote");
  mkdirSync(copy);
  const from = dirname(opts.manifest);
  for (const f of readdirSync(from)) if (/^manifest.*\.json$/.test(f)) cpSync(join(from, f), join(copy, f));
  cpSync(join(from, "dist"), join(copy, "dist"), { recursive: true });
  const manifest = join(copy, basename(opts.manifest));
  console.log(`esp32 link check: sources copied (${relative(process.cwd(), from) || "."}/manifest*.json, dist/)`);
  fakeIdf(join(work, "esp-idf"));
  const env = sdkEnv(join(work, "esp-idf"));

  const jobs = opts.boards.flatMap((board) => opts.builds.map((build) => ({ board, build })));
  const results = new Array(jobs.length);
  let next = 0;
  const began = Date.now();
  async function worker() {
    while (next < jobs.length) {
      const i = next++;
      const { board, build } = jobs[i];
      try {
        results[i] = await checkOne(board, build, work, env, manifest);
      } catch (e) {
        results[i] = { label: `${board} ${build}`, ok: false, problems: [String(e?.message ?? e)], log: [] };
      }
      const r = results[i];
      console.log(`${r.ok ? "PASS" : "FAIL"}  ${r.label}${r.sizes ? `  (${r.sizes.seconds} s)` : ""}`);
      for (const p of r.problems) console.log(`      ${p}`);
    }
  }
  await Promise.all(Array.from({ length: Math.min(opts.jobs, jobs.length) }, worker));

  const failed = results.filter((r) => !r.ok);
  for (const r of failed) {
    console.log(`\n---- ${r.label}: log`);
    console.log(r.log.join("\n").split("\n").slice(-60).join("\n"));
  }
  printSizes(results);
  if (opts.results && !failed.length) writeFileSync(opts.results, resultsMarkdown(results, (Date.now() - began) / 1000));
  if (opts.json) writeFileSync(opts.json, JSON.stringify(results.map((r) => ({ label: r.label, ok: r.ok, problems: r.problems, sizes: r.sizes, tmp: r.tmp })), null, 2) + "\n");
  if (!opts.keep) rmSync(work, { recursive: true, force: true });
  else console.log(`\ngenerated files kept in ${work} (<board>-<build>/tmp/.../mc.xs.c, mc.xs.h)`);
  console.log(`\n${results.length} builds in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  console.log(failed.length ? `esp32 link check: FAIL (${failed.map((r) => r.label).join(", ")})` : "esp32 link check: PASS");
  process.exit(failed.length ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
