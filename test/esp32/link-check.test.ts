/**
 * The ESP32 link check (scripts/esp32-link-check.mjs) refuses a boot module that is not
 * mote's. CI runs the check itself on the real manifests for every board (.ci/run); this
 * test shows that it can fail: the same program with one more preloaded setup/* module
 * from outside the repository, which joins WiFi and waits for SNTP like Moddable's
 * setup/network, linked for esp32c3 by the real Moddable SDK host tools, must be refused
 * with the reason.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { findModdable, moddableMissing, moddableEnv, type ModdableSdk } from "../../host-shim/moddable/sdk.js";
import { run } from "../helpers/run.js";

const root = join(__dirname, "..", "..");
const skip = moddableMissing();

describe.skipIf(skip !== undefined)("ESP32 link check (Moddable SDK host tools, no ESP-IDF)", () => {
  const dir = mkdtempSync(join(tmpdir(), "mote-esp32-boot-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a preloaded setup/* module from outside the repository fails the check, with its imports named", async () => {
    const sdk = findModdable() as ModdableSdk;
    expect(existsSync(join(root, "dist", "device", "main.js")), "npm run build first").toBe(true);
    // the repository's manifests and dist/, plus a manifest that preloads one more boot module
    for (const f of readdirSync(root)) if (/^manifest.*\.json$/.test(f)) cpSync(join(root, f), join(dir, f));
    cpSync(join(root, "dist"), join(dir, "dist"), { recursive: true });
    const outside = mkdtempSync(join(tmpdir(), "mote-esp32-setup-"));
    writeFileSync(
      join(outside, "join.js"),
      [
        'import WiFi from "embedded:network/interface/wifi";',
        'import SNTP from "sntp";',
        "export default function (done) {",
        "\tnew WiFi({ onChanged() { new SNTP({ host: \"pool.ntp.org\" }, () => done()); } });",
        "}",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "manifest_extra_boot.json"),
      JSON.stringify({ include: ["./manifest.json"], modules: { "setup/join": join(outside, "join") }, preload: ["setup/join"] }),
    );
    const r = await run(
      process.execPath,
      [join(root, "scripts", "esp32-link-check.mjs"), "--board", "esp32c3", "--build", "release", "--jobs", "1", "--manifest", join(dir, "manifest_extra_boot.json")],
      { cwd: root, env: moddableEnv(sdk, root), timeoutMs: 240_000 },
    );
    const out = r.stdout + r.stderr;
    expect(r.status, out).toBe(1);
    expect(out).toContain("FAIL  esp32c3 release");
    expect(out).toContain(`"setup/join" (${join(outside, "join.js")}, imports embedded:network/interface/wifi, sntp) is linked and runs at boot before mote's main`);
    // the rest of the program linked: the boot module is the only problem reported
    expect(out).not.toContain("not found");
    expect(out).not.toContain("is not in the linked archive");
    expect(out.trimEnd().split("\n").at(-1)).toBe("esp32 link check: FAIL (esp32c3 release)");
    rmSync(outside, { recursive: true, force: true });
  }, 300_000);
});
