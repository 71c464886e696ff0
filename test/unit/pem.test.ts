/**
 * PEM to DER (src/util/pem.ts): what openssl writes decodes to what openssl
 * writes as DER; base64 agrees with Node's decoder; every malformed input is
 * a PemError with its code; the TLS credentials helper takes PEM or DER.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { decodeBase64, decodePem, derOf, isDerSequence, PemError } from "../../src/util/pem.js";
import { tlsCredentials } from "../../src/platform/tls.js";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
if (!hasOpenssl) {
  if (process.env.CI) throw new Error("openssl is required for test/unit/pem.test.ts (CI is set)");
  console.warn("skipping the openssl part of test/unit/pem.test.ts: openssl not found");
}

const bytes = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));
const files: Record<string, Uint8Array> = {};
let dir = "";

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(PemError);
    return (e as PemError).code;
  }
  return "no error";
}

beforeAll(() => {
  if (!hasOpenssl) return;
  dir = mkdtempSync(join(tmpdir(), "mote-pem-"));
  const run = (args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=mote pem test"]);
  run(["x509", "-in", "ca.pem", "-outform", "der", "-out", "ca.der"]);
  run(["pkcs8", "-topk8", "-nocrypt", "-in", "ca.key", "-outform", "der", "-out", "ca.key.der"]);
  for (const f of ["ca.pem", "ca.der", "ca.key", "ca.key.der"]) files[f] = new Uint8Array(readFileSync(join(dir, f)));
}, 30_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasOpenssl)("PEM written by openssl", () => {
  test("a certificate decodes to the DER openssl writes for it", () => {
    const [block] = decodePem(files["ca.pem"]);
    expect(block.label).toBe("CERTIFICATE");
    expect(Buffer.from(block.der).equals(Buffer.from(files["ca.der"]))).toBe(true);
    expect(isDerSequence(block.der)).toBe(true);
  });

  test("a PKCS #8 key decodes to its DER, and CRLF line ends and explanatory text change nothing", () => {
    const text = "Bag Attributes\r\n" + Buffer.from(files["ca.key"]).toString("latin1").replace(/\n/g, "\r\n");
    const [block] = decodePem(bytes(text));
    expect(block.label).toBe("PRIVATE KEY");
    expect(Buffer.from(block.der).equals(Buffer.from(files["ca.key.der"]))).toBe(true);
  });

  test("tlsCredentials gives the same DER for a PEM and a DER CA, and refuses a key where the CA belongs", () => {
    expect(tlsCredentials({ ca: files["ca.pem"] }).ca).toEqual(files["ca.der"]);
    expect(tlsCredentials({ ca: files["ca.der"] }).ca).toBe(files["ca.der"]);
    const both = tlsCredentials({ cert: files["ca.pem"], key: files["ca.key"] });
    expect(both.key).toEqual(files["ca.key.der"]);
    expect(codeOf(() => tlsCredentials({ ca: files["ca.key"] }))).toBe("pem-label");
  });

  test("a bundle of two certificates is refused: Moddable trusts one CA per connection", () => {
    const two = new Uint8Array([...files["ca.pem"], ...files["ca.pem"]]);
    expect(decodePem(two)).toHaveLength(2);
    expect(codeOf(() => derOf(two, ["CERTIFICATE"], "the CA"))).toBe("pem-too-many");
  });
});

describe("base64 (RFC 4648 §4)", () => {
  test("agrees with Node's decoder on every length 0..64 and every padding", () => {
    for (let n = 0; n <= 64; n++) {
      const data = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff));
      const text = data.toString("base64");
      expect(Buffer.from(decodeBase64(bytes(text))).equals(data)).toBe(true);
      // folded into 4-character lines with blanks
      expect(Buffer.from(decodeBase64(bytes(text.replace(/(.{4})/g, "$1 \n\t")))).equals(data)).toBe(true);
    }
  });

  test("refuses a wrong length, a foreign character, data after the padding and three pads", () => {
    expect(codeOf(() => decodeBase64(bytes("QUJD4")))).toBe("pem-base64");
    expect(codeOf(() => decodeBase64(bytes("QU*D")))).toBe("pem-base64");
    expect(codeOf(() => decodeBase64(bytes("QQ==QUJD")))).toBe("pem-base64");
    expect(codeOf(() => decodeBase64(bytes("Q===")))).toBe("pem-base64");
  });
});

describe("malformed PEM gets a PemError with a code", () => {
  const block = (begin: string, body: string, end: string) => bytes(`${begin}\n${body}\n${end}\n`);
  test.each([
    ["no BEGIN line", bytes("MIIB\n"), "pem-no-block"],
    ["BEGIN without END", bytes("-----BEGIN CERTIFICATE-----\nMAA=\n"), "pem-boundary"],
    ["END without BEGIN", bytes("-----END CERTIFICATE-----\n"), "pem-boundary"],
    ["labels that differ", block("-----BEGIN CERTIFICATE-----", "MAA=", "-----END PRIVATE KEY-----"), "pem-boundary"],
    ["a malformed BEGIN line", block("-----BEGIN CERTIFICATE----", "MAA=", "-----END CERTIFICATE-----"), "pem-boundary"],
    ["a label with a double space", block("-----BEGIN A  B-----", "MAA=", "-----END A  B-----"), "pem-boundary"],
    ["a nested BEGIN", block("-----BEGIN CERTIFICATE-----", "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"), "pem-boundary"],
    ["RFC 1421 headers", block("-----BEGIN RSA PRIVATE KEY-----", "Proc-Type: 4,ENCRYPTED\nMAA=", "-----END RSA PRIVATE KEY-----"), "pem-headers"],
    ["an empty block", block("-----BEGIN CERTIFICATE-----", "", "-----END CERTIFICATE-----"), "pem-empty"],
    ["bad base64", block("-----BEGIN CERTIFICATE-----", "MA!=", "-----END CERTIFICATE-----"), "pem-base64"],
  ])("%s", (_name, input, code) => {
    expect(codeOf(() => decodePem(input))).toBe(code);
  });

  test("more blocks than allowed", () => {
    const one = "-----BEGIN X-----\nMAA=\n-----END X-----\n";
    expect(decodePem(bytes(one.repeat(4)))).toHaveLength(4);
    expect(codeOf(() => decodePem(bytes(one.repeat(5))))).toBe("pem-too-many");
  });

  test("DER that is not one whole SEQUENCE, and PEM that does not hold one", () => {
    expect(codeOf(() => derOf(new Uint8Array([0x30, 0x03, 0x02, 0x01]), ["CERTIFICATE"], "the CA"))).toBe("der-malformed");
    expect(codeOf(() => derOf(new Uint8Array([0x04, 0x00]), ["CERTIFICATE"], "the CA"))).toBe("der-malformed");
    expect(codeOf(() => derOf(bytes("-----BEGIN CERTIFICATE-----\nBAA=\n-----END CERTIFICATE-----\n"), ["CERTIFICATE"], "the CA"))).toBe("der-malformed");
    expect(derOf(bytes("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"), ["CERTIFICATE"], "the CA")).toEqual(new Uint8Array([0x30, 0]));
  });
});
