/**
 * OTA text inputs: update descriptors (src/ota/descriptor.ts), `cmd/ota`
 * payloads (src/ota/agent.ts parseOtaCommand), public keys (src/ota/keys.ts)
 * and semantic versions (src/ota/semver.ts).
 *
 * Descriptor inputs: valid descriptors with every field at and past its
 * bounds, JSON-aware mutations (deep nesting, huge numbers, escapes, unknown
 * and duplicate members), byte mutations (invalid UTF-8), random bytes.
 * Properties: a Descriptor or OtaError("bad-descriptor"); a parsed
 * descriptor re-encodes (`encodeDescriptor`) and parses to an equal one, and
 * its canonical signed bytes are stable (RFC 8785 style: one spelling).
 */
import { canonicalDescriptorBytes, encodeDescriptor, parseDescriptor, type Descriptor } from "../../src/ota/descriptor.js";
import { encodeBase64 } from "../../src/ota/encoding.js";
import { OtaError } from "../../src/ota/errors.js";
import { parseOtaCommand } from "../../src/ota/agent.js";
import { parsePublicKey } from "../../src/ota/keys.js";
import { compareSemVer, parseSemVer } from "../../src/ota/semver.js";
import { decodeUtf8, encodeUtf8 } from "../../src/util/utf8.js";
import { FuzzFailure, assert, deepEqual, hex, showValue, type FuzzTarget, type Rng } from "../engine.js";
import { mutateBytes, mutateText, randomBytes, randomText, tokenText } from "../mutators.js";

const JSON_DICT = Object.freeze([
  '"', "{", "}", "[", "]", ",", ":", "\\", "\\u0000", "\\ud800", "1e999", "-0", "null", "true", "[[[[[[", "{{{{", '"format":1',
  '"kind":"mod"', '"size":2147483648', '"urls":[]', '"x":1', '"board":"sim"', "  ", "\n", "é", "😀", "0x10", "01",
]);

function semver(rng: Rng): string {
  const n = () => String(rng.bool(0.8) ? rng.int(20) : rng.pick([0, 9007199254740991, 9007199254740992]));
  let v = `${n()}.${n()}.${n()}`;
  if (rng.bool(0.3)) v += "-" + rng.pick(["alpha", "rc.1", "0", "01", "x-y", ""]);
  if (rng.bool(0.2)) v += "+" + rng.pick(["build.5", "", "sha.abc"]);
  return v;
}

function validDescriptor(rng: Rng): Record<string, unknown> {
  const d: Record<string, unknown> = {
    format: 1,
    kind: rng.pick(["firmware", "mod"]),
    board: rng.pick(["sim", "esp32/moddable_two", "esp32s3", "a".repeat(64)]),
    version: semver(rng),
    size: rng.pick([1, 9000, 0x7fffffff, rng.int(1 << 20) + 1]),
    sha256: hex(rng.bytes(32)),
    created: rng.pick(["2026-11-24T23:00:00Z", "2000-02-29T00:00:00Z", "2099-12-31T23:59:59Z"]),
    signature: encodeBase64(rng.bytes(64)),
  };
  if (rng.bool(0.4)) d.minVersion = "0.0.1";
  if (rng.bool(0.5)) d.urls = Array.from({ length: 1 + rng.int(4) }, () => rng.pick(["http://127.0.0.1:8080/fw.bin", "coap://[::1]/fw", "https://h/" + "x".repeat(rng.int(520))]));
  return d;
}

export interface DescriptorInput {
  input: string | Uint8Array;
}

export function generateDescriptor(rng: Rng): DescriptorInput {
  const mode = rng.int(8);
  if (mode === 0) return { input: randomBytes(rng, 256) };
  if (mode === 1) return { input: tokenText(rng, JSON_DICT, 40) };
  const d = validDescriptor(rng);
  if (mode === 2 && rng.bool()) {
    // a field at or past its bound
    const key = rng.pick(Object.keys(d));
    d[key] = rng.pick([null, 0, -1, 1.5, "", "x".repeat(5000), [], {}, true, 2 ** 53, "1.0.0", [["nested"]]]);
  }
  let text = JSON.stringify(d, null, rng.bool(0.2) ? 2 : undefined);
  if (mode >= 4 && mode <= 6) text = mutateText(rng, text, JSON_DICT, 3);
  if (mode === 7) return { input: mutateBytes(rng, encodeUtf8(text), 3) };
  return { input: rng.bool() ? text : encodeUtf8(text) };
}

export const descriptorTarget: FuzzTarget<DescriptorInput> = {
  name: "ota-descriptor",
  description: "OTA update descriptors (valid, bounds, JSON-aware mutations, invalid UTF-8): Descriptor or OtaError(bad-descriptor); encode/parse round trip",
  generate: generateDescriptor,
  show: ({ input }) => (typeof input === "string" ? showValue(input) : `hex:${hex(input)}`),
  check({ input }) {
    let d: Descriptor;
    try {
      d = parseDescriptor(input);
    } catch (e) {
      if (e instanceof OtaError && e.code === "bad-descriptor") return "error:bad-descriptor";
      throw e;
    }
    const text = encodeDescriptor(d);
    let back: Descriptor;
    try {
      back = parseDescriptor(text);
    } catch (e) {
      throw new FuzzFailure(`an accepted descriptor does not parse after encodeDescriptor: ${String(e)} — ${text}`);
    }
    assert(deepEqual(back, d), "encodeDescriptor/parseDescriptor round trip differs");
    assert(deepEqual(canonicalDescriptorBytes(back), canonicalDescriptorBytes(d)), "canonical bytes not stable");
    return `ok:${d.kind}`;
  },
};

// ---------------------------------------------------------------- cmd/ota payloads

export const otaCommandTarget: FuzzTarget<{ payload: Uint8Array }> = {
  name: "ota-command",
  description: "cmd/ota payloads (URLs, JSON wrappers, descriptors, junk): a request or OtaError(bad-descriptor)",
  generate(rng) {
    const mode = rng.int(5);
    let text: string;
    if (mode === 0) return { payload: randomBytes(rng, 128) };
    if (mode === 1) text = rng.pick(["http://h/d.json", " https://h:1/x ", "coap://[::1]/d", "ftp://x"]) + randomText(rng, 8);
    else if (mode === 2) text = JSON.stringify({ descriptor: rng.bool() ? validDescriptor(rng) : "x", url: rng.bool() ? "http://h/fw" : 5 });
    else if (mode === 3) text = JSON.stringify(validDescriptor(rng));
    else text = mutateText(rng, JSON.stringify({ url: "http://h/d", descriptor: { format: 1 } }), JSON_DICT, 4);
    return { payload: rng.bool(0.9) ? encodeUtf8(text) : mutateBytes(rng, encodeUtf8(text), 2) };
  },
  show: ({ payload }) => `hex:${hex(payload)}`,
  check({ payload }) {
    try {
      const r = parseOtaCommand(payload);
      if ("descriptorUrl" in r) {
        assert(typeof r.descriptorUrl === "string", "descriptorUrl not a string");
        return "ok:url";
      }
      assert(typeof r.descriptor === "string" || r.descriptor instanceof Uint8Array, "descriptor neither text nor bytes");
      return "ok:descriptor";
    } catch (e) {
      if (e instanceof OtaError && e.code === "bad-descriptor") return "error:bad-descriptor";
      throw e;
    }
  },
};

// ---------------------------------------------------------------- keys and versions

const KEY_PEM_HEAD = "-----BEGIN PUBLIC KEY-----";
/** Real P-256 points (generated once with node:crypto), so the accepting path is reached too. */
const VALID_KEYS = Object.freeze([
  "04e77a0da9f384e1e1a6163d619579297713f65b4f1c5c19b6b6d17e8f8f046ba7a4ddafb5b8b2390475272b5f2e7f5a2e13d272c1091aff4c56e89c9b8597da46",
  "049118fa4cd737534f8855fd41f314e673c058d23f048702a33f00469b0eea67acd9c3b4a9f5c7354bb95c03279f9240a6d83447c55a9ca3ca972a7bf270e6dd9d",
  "045247553cf5519a38a10f557bf672d471a61550f55121669f93733f8caf9358553e928689055b1229cc6a0b3b93cb99b0d79e0ca5a620844ef408158144e4f881",
]);

function keyBytes(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g)!.map((h) => parseInt(h, 16)));
}
const KEY_PEM_TAIL = "-----END PUBLIC KEY-----";

export const otaKeyTarget: FuzzTarget<{ text: string }> = {
  name: "ota-key",
  description: "public key text (PEM, hex, base64; truncated, mutated, off-curve): 65-byte key or OtaError(bad-key)",
  generate(rng) {
    const raw = rng.bool(0.7) ? keyBytes(rng.pick(VALID_KEYS)) : Uint8Array.from([4, ...rng.bytes(64)]);
    const mode = rng.int(5);
    let text: string;
    if (mode === 0) text = "04" + hex(raw.subarray(1));
    else if (mode === 1) text = encodeBase64(raw);
    else if (mode === 2) text = `${KEY_PEM_HEAD}\n${encodeBase64(Uint8Array.from([0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, ...raw]))}\n${KEY_PEM_TAIL}\n`;
    else if (mode === 3) text = randomText(rng, 200);
    else text = KEY_PEM_HEAD + randomText(rng, 100);
    if (rng.bool(0.4)) text = mutateText(rng, text, ["=", "-", "\n", " ", KEY_PEM_TAIL, "04", "A"], 3);
    return { text };
  },
  show: (i) => showValue(i.text),
  check({ text }) {
    try {
      const key = parsePublicKey(text);
      assert(key.length === 65 && key[0] === 4, "accepted key is not a 65-byte uncompressed point");
      return "ok:key";
    } catch (e) {
      if (e instanceof OtaError && e.code === "bad-key") return "error:bad-key";
      throw e;
    }
  },
};

export const semverTarget: FuzzTarget<{ a: string; b: string }> = {
  name: "semver",
  description: "version strings: SemVer or undefined; a parsed version compares equal to itself and antisymmetrically to another",
  generate(rng) {
    const one = () => (rng.bool(0.7) ? mutateText(rng, semver(rng), ["-", "+", ".", "0", "01", "a", "99999999999999999999"], 2) : randomText(rng, 20));
    return { a: one(), b: one() };
  },
  show: (i) => showValue(i),
  check({ a, b }) {
    const pa = parseSemVer(a);
    const pb = parseSemVer(b);
    if (pa === undefined) return "invalid";
    assert(compareSemVer(pa, pa) === 0, "version not equal to itself");
    if (pb !== undefined) assert(compareSemVer(pa, pb) === -compareSemVer(pb, pa), "comparison not antisymmetric");
    const text = decodeUtf8(encodeUtf8(a));
    assert(text === a, "accepted version is not plain UTF-8 text");
    return "ok";
  },
};
