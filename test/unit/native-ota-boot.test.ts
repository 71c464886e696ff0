/**
 * The native module `mote/ota-boot` (native/ota-boot/, docs/ota.md "Native module"),
 * checked without mcconfig, ESP-IDF or hardware:
 *
 *   - contract: every function of src/platform/ota-boot.d.ts has a host function
 *     declaration `@ "xs_otaboot_<name>"` in ota-boot.js, a definition in ota-boot.c and
 *     an entry in the frozen default export; the JS half unpacks setBootPartition's image;
 *   - syntax: `cc -std=c11 -Wall -Werror -fsyntax-only` against the stub headers in
 *     test/native/stubs (ESP-IDF 5.5 path and the pre-5.5 otadata path);
 *   - behaviour: a host build of ota-boot.c against an in-memory ESP-IDF + tiny XS
 *     (test/native/fake) runs the scenarios in test/native/fake/ota_boot_test.c, both
 *     ways of marking invalid; its semver compare is checked against src/ota/semver.ts
 *     and its SHA-256 against node:crypto.
 *
 * Without a C compiler the C parts fail under CI and are skipped with a printed reason
 * elsewhere.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { transformSync } from "esbuild";
import { afterAll, describe, expect, test } from "vitest";
import { compareVersions } from "../../src/ota/semver.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const at = (p: string) => join(ROOT, p);
const C_FILE = at("native/ota-boot/ota-boot.c");
const JS_FILE = at("native/ota-boot/ota-boot.js");
const DTS_FILE = at("src/platform/ota-boot.d.ts");
const STUBS = at("test/native/stubs");
const FAKE = at("test/native/fake");
const FAKE_SOURCES = ["fake_xs.c", "fake_idf.c", "ota_boot_test.c"].map((f) => join(FAKE, f));

/** The function names of `interface OtaBoot` in the .d.ts. */
function declaredFunctions(): string[] {
  const dts = readFileSync(DTS_FILE, "utf8");
  const body = /interface OtaBoot \{([\s\S]*?)\n  \}/.exec(dts)?.[1];
  if (body === undefined) throw new Error("interface OtaBoot not found in ota-boot.d.ts");
  const code = body.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  return [...code.matchAll(/^\s*(\w+)\s*\(/gm)].map((m) => m[1]);
}

function cc(): string | undefined {
  for (const bin of [process.env.CC, "cc", "gcc", "clang"]) {
    if (bin && spawnSync(bin, ["--version"], { encoding: "utf8" }).status === 0) return bin;
  }
  return undefined;
}

const CC = cc();
const missing = CC === undefined ? "no C compiler (cc/gcc/clang) on PATH" : undefined;
if (missing !== undefined) {
  if (process.env.CI) throw new Error(`CI: ${missing}: test/unit/native-ota-boot.test.ts needs one`);
  console.warn(`skipping the C checks of native/ota-boot: ${missing}`);
}

function run(bin: string, args: string[], input?: string) {
  const r = spawnSync(bin, args, { cwd: ROOT, encoding: "utf8", input, maxBuffer: 16 << 20 });
  return { status: r.status, out: r.stdout ?? "", err: r.stderr ?? "", error: r.error };
}

describe("contract: .d.ts <-> ota-boot.js <-> ota-boot.c", () => {
  const names = declaredFunctions();
  const js = readFileSync(JS_FILE, "utf8");
  const c = readFileSync(C_FILE, "utf8");

  test("the .d.ts declares the eight functions of docs/ota.md", () => {
    expect(names.sort()).toEqual(
      ["floorVersion", "markInvalid", "markValid", "nextUpdatePartition", "partitionState", "restart", "runningPartition", "setBootPartition"],
    );
  });

  test("every declared function has a host function in ota-boot.js and a definition in ota-boot.c", () => {
    const hostInJs = new Set([...js.matchAll(/function\s+\w+\s*\([^)]*\)\s*@\s*"(xs_\w+)"\s*;/g)].map((m) => m[1]));
    const definedInC = new Set([...c.matchAll(/^void\s+(xs_\w+)\s*\(\s*xsMachine\s*\*\s*the\s*\)\s*\{/gm)].map((m) => m[1]));
    for (const name of names) {
      expect(hostInJs, `ota-boot.js: @ "xs_otaboot_${name}"`).toContain(`xs_otaboot_${name}`);
      expect(definedInC, `ota-boot.c: void xs_otaboot_${name}(xsMachine *the)`).toContain(`xs_otaboot_${name}`);
    }
    // and nothing declared in JS is missing in C (a link error on the device)
    for (const host of hostInJs) expect(definedInC, `ota-boot.c defines ${host}`).toContain(host);
  });

  test("the default export is the frozen object of exactly those functions; setBootPartition unpacks the image", () => {
    // Moddable's host-function syntax is not ECMAScript: bind each to a recorder, then evaluate.
    const calls: { host: string; args: unknown[] }[] = [];
    const source = js.replace(
      /function\s+(\w+)\s*\(([^)]*)\)\s*@\s*"(xs_\w+)"\s*;/g,
      (_m, name: string, _params: string, host: string) => `function ${name}(...args) { return __host(${JSON.stringify(host)}, args); }`,
    );
    const { code } = transformSync(source, { format: "cjs", loader: "js" });
    const module = { exports: {} as { default?: Record<string, (...a: unknown[]) => unknown> } };
    new Function("module", "exports", "__host", code)(module, module.exports, (host: string, args: unknown[]) => {
      calls.push({ host, args });
      return host === "xs_otaboot_runningPartition" ? "ota_0" : undefined;
    });
    const otaBoot = module.exports.default!;
    expect(Object.isFrozen(otaBoot)).toBe(true);
    expect(Object.keys(otaBoot).sort()).toEqual([...names].sort());
    expect(otaBoot.runningPartition()).toBe("ota_0");

    const sha256 = new Uint8Array(32).fill(7);
    otaBoot.setBootPartition("ota_1", { byteLength: 1000, sha256, version: "2.0.0", minVersion: "1.5.0" });
    otaBoot.setBootPartition("ota_0", { byteLength: 5, sha256: sha256.buffer, version: "2.0.1" });
    expect(calls.filter((x) => x.host === "xs_otaboot_setBootPartition").map((x) => x.args)).toEqual([
      ["ota_1", 1000, sha256, "2.0.0", "1.5.0"],
      ["ota_0", 5, sha256.buffer, "2.0.1", undefined],
    ]);
    expect(() => otaBoot.setBootPartition("ota_1", null)).toThrow(TypeError);
    expect(() => otaBoot.setBootPartition("ota_1")).toThrow(TypeError);
  });

  test("manifests map the module and preload it", () => {
    const fragment = JSON.parse(readFileSync(at("native/ota-boot/manifest.json"), "utf8"));
    expect(fragment.platforms.esp32.modules["mote/ota-boot"]).toBe("./ota-boot");
    expect(fragment.platforms.esp32.preload).toContain("mote/ota-boot");
    // every ESP32 board section includes the common fragment (mcconfig applies only the most specific platform key)
    const common = JSON.parse(readFileSync(at("boards/esp32-common/manifest.json"), "utf8"));
    expect(common.modules["mote/ota-boot"]).toBe("$(MOTE)/native/ota-boot/ota-boot");
    expect(common.preload).toContain("mote/ota-boot");
    const root = JSON.parse(readFileSync(at("manifest_host.json"), "utf8"));
    for (const board of ["esp32", "esp32/esp32s3", "esp32/esp32c3"])
      expect(root.platforms[board].include, board).toContain("$(MOTE)/boards/esp32-common/manifest.json");
    expect(existsSync(C_FILE) && existsSync(JS_FILE)).toBe(true);
  });
});

describe.skipIf(missing !== undefined)("C: ota-boot.c", () => {
  const dir = mkdtempSync(join(tmpdir(), "mote-ota-boot-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // ESP-IDF >= 5.5 calls esp_ota_mark_app_invalid_rollback(); older ones rewrite otadata themselves
  const paths = [
    { name: "ESP-IDF 5.5 (esp_ota_mark_app_invalid_rollback)", defines: ["-DESP_IDF_VERSION_MINOR=5"] },
    { name: "ESP-IDF 5.4 (otadata through bootloader_common)", defines: ["-DESP_IDF_VERSION_MINOR=4"] },
  ];

  for (const p of paths) {
    test(`compiles cleanly against the stub headers: ${p.name}`, () => {
      for (const extra of [[], ["-DmxDebug=1"]]) {
        const r = run(CC!, ["-std=c11", "-Wall", "-Werror", "-fsyntax-only", ...p.defines, ...extra, "-I", STUBS, C_FILE]);
        expect(r.err).toBe("");
        expect(r.status).toBe(0);
      }
    });
  }

  function build(name: string, defines: string[]): string {
    const out = join(dir, name);
    const common = ["-std=c11", "-Wall", "-Werror", "-O1", "-g", "-DMOTE_OTA_BOOT_TEST", ...defines, "-I", STUBS, "-I", FAKE, "-o", out, C_FILE, ...FAKE_SOURCES];
    // sanitizers when the toolchain has them (catches overruns in the chunk loop and the fakes)
    let r = run(CC!, ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", ...common]);
    if (r.status !== 0) r = run(CC!, common);
    expect(r.err, "host build").toBe("");
    expect(r.status).toBe(0);
    return out;
  }

  const binaries: Record<string, string> = {};
  const binary = (i: number) => (binaries[i] ??= build(`ota_boot_test_${i}`, paths[i].defines));

  for (const [i, p] of paths.entries()) {
    test(`behaviour against the in-memory ESP-IDF: ${p.name}`, () => {
      const r = run(binary(i), []);
      const failed = r.out.split("\n").filter((l) => l.startsWith("not ok"));
      expect(failed, r.out + r.err).toEqual([]);
      expect(r.out).toMatch(/\n(\d+) checks, 0 failed\n$/);
      expect(Number(/(\d+) checks/.exec(r.out)![1])).toBeGreaterThanOrEqual(100);
      expect(r.status).toBe(0);
    }, 60_000);
  }

  test("semver precedence equals src/ota/semver.ts compareVersions", () => {
    const versions = [
      "0.0.0", "0.0.1", "0.1.0", "1.0.0", "1.0.1", "1.1.0", "1.2.0", "1.10.0", "1.9.9", "2.0.0", "10.0.0",
      "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",
      "1.0.0-0", "1.0.0-1", "1.0.0-a1", "1.0.0-1a", "1.0.0-alpha-1", "1.0.0-Alpha", "1.0.0-alpha.1.2", "1.0.0-x.7.z.92",
      "1.0.0+build", "1.0.0+build.2", "1.0.0-rc.1+b", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85",
      "9007199254740991.0.0", "9007199254740992.0.0", "1.2.3-9999999999999999999", "1.2.3-10000000000000000000",
      // invalid
      "", "1", "1.0", "1.0.0.0", "01.0.0", "1.01.0", "1.0.01", "v1.0.0", "1.0.0-", "1.0.0-01", "1.0.0-alpha..1",
      "1.0.0+", "1.0.0+a..b", "1.0.0-a_b", "1.0.0 ", " 1.0.0", "a.b.c", "-1.0.0", "1.0.0-rc.1+b+c", "1.2.3-" + "a".repeat(60),
    ];
    const pairs: [string, string][] = [];
    for (const a of versions) for (const b of versions) pairs.push([a, b]);
    const r = run(binary(0), ["semver"], pairs.map(([a, b]) => `${a}\t${b}\n`).join(""));
    expect(r.status).toBe(0);
    const got = r.out.trimEnd().split("\n");
    expect(got.length).toBe(pairs.length);
    const mismatches: string[] = [];
    pairs.forEach(([a, b], k) => {
      const ts = compareVersions(a, b);
      const want = ts === undefined ? "invalid" : String(ts);
      // Number() in semver.ts rounds numeric pre-release identifiers above 2^53; the C compare is exact
      const beyond = (v: string) => /[-.]\d{17,}/.test(v.split("+")[0]);
      if (got[k] !== want && !(beyond(a) || beyond(b))) mismatches.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: C ${got[k]}, TS ${want}`);
    });
    expect(mismatches).toEqual([]);
  });

  test("SHA-256 equals node:crypto across block boundaries", () => {
    const lcgBytes = (n: number) => {
      const out = new Uint8Array(n);
      let x = 12345;
      for (let i = 0; i < n; i++) {
        x = ((Math.imul(x, 1103515245) + 12345) >>> 0) & 0x7fffffff;
        out[i] = (x >>> 16) & 0xff;
      }
      return out;
    };
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 4095, 4096, 4097, 100_003]) {
      const r = run(binary(0), ["sha256", String(n)]);
      expect(r.status).toBe(0);
      expect(r.out.trim(), `${n} bytes`).toBe(createHash("sha256").update(lcgBytes(n)).digest("hex"));
    }
  });
});
