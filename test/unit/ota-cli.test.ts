import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { main, parseArgs } from "../../cli/ota.js";
import { UsageError } from "../../cli/args.js";
import { MoteError } from "../../src/errors.js";
import { parseDescriptor } from "../../src/ota/descriptor.js";

function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  return main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }).then((status) => ({ status, out, err }));
}

const dir = mkdtempSync(join(tmpdir(), "mote-ota-cli-"));
const image = join(dir, "app.bin");
const out = join(dir, "out");
let descriptorPath = "";
let imageOut = "";

beforeAll(async () => {
  writeFileSync(image, new Uint8Array(100_000).map((_, i) => (i * 31) & 255));
  expect((await run("keygen", "--out", join(dir, "dev"))).status).toBe(0);
  expect((await run("keygen", "--out", join(dir, "other"))).status).toBe(0);
  const packed = await run(
    "pack", "--image", image, "--version", "1.2.0", "--board", "sim", "--key", join(dir, "dev.key"),
    "--min-version", "1.0.0", "--url", "http://127.0.0.1:8080/", "--out", out,
  );
  expect(packed.status).toBe(0);
  descriptorPath = join(out, "app-1.2.0.json");
  imageOut = join(out, "app-1.2.0.bin");
});

describe("mote ota keygen", () => {
  test("writes a PEM private key and public key, and refuses to overwrite them", async () => {
    expect(readFileSync(join(dir, "dev.key"), "utf8")).toContain("-----BEGIN PRIVATE KEY-----");
    expect(readFileSync(join(dir, "dev.pub"), "utf8")).toContain("-----BEGIN PUBLIC KEY-----");
    const again = await run("keygen", "--out", join(dir, "dev"));
    expect(again.status).toBe(1);
    expect(again.err).toEqual([expect.stringMatching(/^mote: exists/)]);
  });
});

describe("mote ota pack", () => {
  test("writes the image and a signed descriptor that names it", () => {
    expect(readdirSync(out).sort()).toEqual(["app-1.2.0.bin", "app-1.2.0.json"]);
    const d = parseDescriptor(readFileSync(descriptorPath, "utf8"));
    expect(d).toMatchObject({ version: "1.2.0", board: "sim", kind: "firmware", minVersion: "1.0.0", size: 100_000 });
    expect(d.urls).toEqual(["http://127.0.0.1:8080/app-1.2.0.bin"]);
    expect(readFileSync(imageOut)).toEqual(readFileSync(image));
  });

  test("refuses a version that is not semver and a missing key with usage / not-found", async () => {
    expect((await run("pack", "--image", image, "--version", "1.2", "--board", "sim", "--key", join(dir, "dev.key"), "--out", out)).status).toBe(2);
    const missing = await run("pack", "--image", image, "--version", "1.2.1", "--board", "sim", "--key", join(dir, "nope.key"), "--out", out);
    expect(missing.status).toBe(1);
    expect(missing.err[0]).toMatch(/^mote: not-found/);
  });

  test("refuses a public key in place of the private key", async () => {
    const r = await run("pack", "--image", image, "--version", "1.2.1", "--board", "sim", "--key", join(dir, "dev.pub"), "--out", join(dir, "x"));
    expect(r.status).toBe(1);
    expect(r.err[0]).toMatch(/^mote: /);
  });
});

describe("mote ota verify", () => {
  test("exits 0 when signature, size and hash hold", async () => {
    const r = await run("verify", descriptorPath, "--key", join(dir, "dev.pub"));
    expect(r.status).toBe(0);
    expect(r.out[0]).toMatch(/^ok: firmware 1\.2\.0 for sim, 100000 bytes/);
  });

  test("names bad-signature for another key or a tampered descriptor", async () => {
    const other = await run("verify", descriptorPath, "--key", join(dir, "other.pub"));
    expect([other.status, other.err]).toEqual([1, ["mote: bad-signature: the signature does not verify with the given key"]]);
    const d = JSON.parse(readFileSync(descriptorPath, "utf8"));
    const tampered = join(out, "tampered.json");
    writeFileSync(tampered, JSON.stringify({ ...d, version: "9.9.9" }));
    const r = await run("verify", tampered, "--key", join(dir, "dev.pub"), "--image", imageOut);
    expect([r.status, r.err]).toEqual([1, ["mote: bad-signature: the signature does not verify with the given key"]]);
  });

  test("names hash-mismatch for a flipped byte and size-mismatch for a short image", async () => {
    const bytes = new Uint8Array(readFileSync(imageOut));
    bytes[12345] ^= 1;
    const flipped = join(dir, "flipped.bin");
    writeFileSync(flipped, bytes);
    const r1 = await run("verify", descriptorPath, "--key", join(dir, "dev.pub"), "--image", flipped);
    expect([r1.status, r1.err]).toEqual([1, ["mote: hash-mismatch: the image's SHA-256 differs from the descriptor's"]]);
    const short = join(dir, "short.bin");
    writeFileSync(short, bytes.subarray(0, 99_999));
    const r2 = await run("verify", descriptorPath, "--key", join(dir, "dev.pub"), "--image", short);
    expect(r2.status).toBe(1);
    expect(r2.err[0]).toMatch(/^mote: size-mismatch/);
  });

  test("names bad-descriptor for garbage and bad-key for a bad key file", async () => {
    const junk = join(dir, "junk.json");
    writeFileSync(junk, "{not json");
    const r1 = await run("verify", junk, "--key", join(dir, "dev.pub"), "--image", imageOut);
    expect(r1.status).toBe(1);
    expect(r1.err[0]).toMatch(/^mote: bad-descriptor/);
    const r2 = await run("verify", descriptorPath, "--key", junk);
    expect(r2.status).toBe(1);
    expect(r2.err[0]).toMatch(/^mote: bad-key/);
  });

  test("an unknown subcommand or option is a usage error (2)", async () => {
    expect((await run("frobnicate")).status).toBe(2);
    expect((await run("verify", descriptorPath, "--key", join(dir, "dev.pub"), "--bogus", "1")).status).toBe(2);
  });

  test("a usage error is one line naming the code 'usage', exit 2, as in the other CLI groups (fuzz F4)", async () => {
    for (const argv of [["frobnicate"], ["verify", descriptorPath, "--key", join(dir, "dev.pub"), "--bogus", "1"], ["keygen", "--out"]]) {
      const r = await run(...argv);
      expect(r.status, argv.join(" ")).toBe(2);
      expect(r.err, argv.join(" ")).toEqual([expect.stringMatching(/^mote: usage: \S/)]);
    }
  });

  test("its argument parser throws the shared UsageError: a MoteError with the literal code 'usage' (fuzz F4)", () => {
    let caught: unknown;
    try {
      parseArgs(["--x"]);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect(caught).toBeInstanceOf(MoteError);
    expect((caught as MoteError).code).toBe("usage");
  });

  test("with no subcommand it prints the usage and exits 2; help prints it on stdout and exits 0", async () => {
    const none = await run();
    expect(none.status).toBe(2);
    expect(none.err.join("\n")).toMatch(/^usage:\n  mote ota keygen/);
    const help = await run("help");
    expect(help.status).toBe(0);
    expect(help.out.join("\n")).toMatch(/mote ota deploy/);
  });
});
