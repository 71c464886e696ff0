import { generateKeyPairSync } from "node:crypto";
import { describe, expect, test } from "vitest";
import { describeImage, nodeOtaCrypto, rawPublicKey, signDescriptor } from "../../cli/ota-sign.js";
import {
  acceptDescriptor,
  canonicalDescriptorBytes,
  checkDescriptor,
  descriptorSignatureValid,
  encodeDescriptor,
  parseDescriptor,
  type Descriptor,
  type UpdatePolicy,
} from "../../src/ota/descriptor.js";
import { OtaError, type OtaErrorCode } from "../../src/ota/errors.js";
import { compareVersions, parseSemVer } from "../../src/ota/semver.js";
import { decodeUtf8 } from "../../src/util/utf8.js";

const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const PUB = rawPublicKey(publicKey);
const IMAGE = new Uint8Array(5000).map((_, i) => (i * 7) & 255);
const POLICY: UpdatePolicy = { board: "sim", runningVersion: "1.0.0", maxSize: 1 << 20 };

function signed(fields: Partial<Parameters<typeof describeImage>[1]> = {}): Descriptor {
  return signDescriptor(
    describeImage(IMAGE, { version: "2.0.0", board: "sim", created: "2026-11-24T12:00:00Z", ...fields }),
    privateKey,
  );
}

function codeOf(fn: () => unknown): OtaErrorCode | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof OtaError) return e.code;
    throw e;
  }
  return undefined;
}

function accept(input: string | Descriptor, policy: Partial<UpdatePolicy> = {}) {
  return acceptDescriptor(input, { publicKey: PUB, crypto: nodeOtaCrypto, policy: { ...POLICY, ...policy } });
}

describe("canonical encoding", () => {
  test("sorts members, drops the signature and has no whitespace", () => {
    const d = signed({ minVersion: "1.5.0", urls: ["http://127.0.0.1:8080/fw.bin"] });
    const text = decodeUtf8(canonicalDescriptorBytes(d)) as string;
    expect(text).toBe(
      `{"board":"sim","created":"2026-11-24T12:00:00Z","format":1,"kind":"firmware","minVersion":"1.5.0",` +
        `"sha256":"${d.sha256}","size":5000,"urls":["http://127.0.0.1:8080/fw.bin"],"version":"2.0.0"}`,
    );
  });

  test("does not depend on the order members arrive in", () => {
    const d = signed();
    const shuffled = JSON.stringify(Object.fromEntries(Object.entries(d).reverse()));
    expect(canonicalDescriptorBytes(parseDescriptor(shuffled))).toEqual(canonicalDescriptorBytes(d));
    expect(accept(shuffled).version).toBe("2.0.0");
  });

  test("the encoded descriptor parses back to itself", () => {
    const d = signed({ urls: ["coap://[::1]/fw"] });
    expect(parseDescriptor(encodeDescriptor(d))).toEqual(d);
  });
});

describe("signature", () => {
  test("a descriptor signed with the device's key is accepted", () => {
    const d = accept(encodeDescriptor(signed()));
    expect(d.size).toBe(IMAGE.length);
    expect(descriptorSignatureValid(d, PUB, nodeOtaCrypto)).toBe(true);
  });

  test("changing any signed member after signing is bad-signature", () => {
    const d = signed();
    const tampered: Array<Partial<Descriptor>> = [
      { version: "2.0.1" },
      { board: "sim2" },
      { size: 4999 },
      { sha256: "0".repeat(64) },
      { created: "2026-11-24T12:00:01Z" },
      { kind: "mod" },
      { minVersion: "1.0.0" },
      { urls: ["http://evil.example/fw.bin"] },
    ];
    for (const change of tampered) {
      expect(codeOf(() => accept(JSON.stringify({ ...d, ...change })))).toBe("bad-signature");
    }
  });

  test("a signature by another key is bad-signature", () => {
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const d = signDescriptor(describeImage(IMAGE, { version: "2.0.0", board: "sim" }), other);
    expect(codeOf(() => accept(encodeDescriptor(d)))).toBe("bad-signature");
  });
});

describe("device policy", () => {
  test("refuses another board", () => {
    expect(codeOf(() => accept(signed({ board: "esp32/moddable_two" })))).toBe("wrong-board");
  });

  test("refuses older and equal versions unless allowed, and never goes below the floor", () => {
    expect(codeOf(() => accept(signed({ version: "0.9.0" })))).toBe("downgrade");
    expect(codeOf(() => accept(signed({ version: "1.0.0" })))).toBe("up-to-date");
    expect(codeOf(() => accept(signed({ version: "1.0.0-rc.1" })))).toBe("downgrade");
    expect(accept(signed({ version: "0.9.0" }), { allowDowngrade: true }).version).toBe("0.9.0");
    expect(codeOf(() => accept(signed({ version: "0.9.0" }), { allowDowngrade: true, floorVersion: "0.9.1" }))).toBe("downgrade");
    expect(accept(signed({ version: "1.0.0" }), { allowSameVersion: true }).version).toBe("1.0.0");
  });

  test("refuses an image that does not fit the slot", () => {
    expect(codeOf(() => accept(signed(), { maxSize: IMAGE.length - 1 }))).toBe("too-large");
    expect(accept(signed(), { maxSize: IMAGE.length }).size).toBe(IMAGE.length);
  });

  test("refuses a kind the device does not take", () => {
    expect(checkDescriptor(signed({ kind: "mod" }), { ...POLICY, kinds: ["firmware"] })?.code).toBe("wrong-kind");
  });

  test("checks the signature before anything else", () => {
    const d = { ...signed({ board: "other", version: "0.1.0" }), size: 1 };
    expect(codeOf(() => accept(JSON.stringify(d)))).toBe("bad-signature");
  });
});

describe("parsing is strict and bounded", () => {
  const good = signed();
  const cases: Array<[string, string]> = [
    ["not JSON", "{"],
    ["an array", "[]"],
    ["null", "null"],
    ["an unknown member", JSON.stringify({ ...good, extra: 1 })],
    ["format 2", JSON.stringify({ ...good, format: 2 })],
    ["a missing size", JSON.stringify({ ...good, size: undefined })],
    ["a fractional size", JSON.stringify({ ...good, size: 1.5 })],
    ["a zero size", JSON.stringify({ ...good, size: 0 })],
    ["a size as text", JSON.stringify({ ...good, size: "5000" })],
    ["uppercase hex", JSON.stringify({ ...good, sha256: good.sha256.toUpperCase() })],
    ["a short hash", JSON.stringify({ ...good, sha256: "ab" })],
    ["a non-semver version", JSON.stringify({ ...good, version: "v2" })],
    ["minVersion above version", JSON.stringify({ ...good, minVersion: "3.0.0" })],
    ["a bad kind", JSON.stringify({ ...good, kind: "app" })],
    ["a board with spaces", JSON.stringify({ ...good, board: "my board" })],
    ["a local time", JSON.stringify({ ...good, created: "2026-11-24T12:00:00+01:00" })],
    ["a short signature", JSON.stringify({ ...good, signature: "AAAA" })],
    ["an ftp url", JSON.stringify({ ...good, urls: ["ftp://x/y"] })],
    ["five urls", JSON.stringify({ ...good, urls: Array(5).fill("http://a/b") })],
    ["deep nesting", "[".repeat(3000) + "]".repeat(3000)],
    ["too many bytes", JSON.stringify({ ...good, board: "x".repeat(5000) })],
  ];
  for (const [what, text] of cases) {
    test(`${what} is bad-descriptor`, () => {
      expect(codeOf(() => parseDescriptor(text))).toBe("bad-descriptor");
      expect(codeOf(() => parseDescriptor(new TextEncoder().encode(text)))).toBe("bad-descriptor");
    });
  }

  test("invalid UTF-8 is bad-descriptor", () => {
    expect(codeOf(() => parseDescriptor(new Uint8Array([0x7b, 0xff, 0x7d])))).toBe("bad-descriptor");
  });

  test("a bound below the descriptor's size refuses it", () => {
    const text = encodeDescriptor(good);
    expect(codeOf(() => parseDescriptor(text, text.length - 1))).toBe("bad-descriptor");
    expect(parseDescriptor(text, text.length).version).toBe("2.0.0");
  });
});

describe("semver", () => {
  test("orders versions as semver.org §11 lists them", () => {
    const ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "10.0.0"];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        expect(compareVersions(ordered[i], ordered[j])).toBe(Math.sign(i - j));
      }
    }
  });

  test("ignores build metadata and refuses malformed versions", () => {
    expect(compareVersions("1.0.0+a", "1.0.0+b")).toBe(0);
    for (const bad of ["1", "1.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "a.b.c", "", "1.0.0.0", "9".repeat(70) + ".0.0"]) {
      expect(parseSemVer(bad)).toBeUndefined();
    }
  });
});
