/**
 * The decoders of the security messages (docs/security.md): signed messages
 * on `cmd/signed` (src/ota/signed.ts parseSignedMessage, then the device's
 * cheap checks `checkAddressing`) and the trust record kept in the
 * preferences (src/ota/trust-store.ts decodeTrustRecord, TrustStore.load).
 *
 * Signed-message inputs: well-formed rotations and configs (random
 * signatures: the form is what is decoded here), fields at and past their
 * bounds, JSON-aware mutations (nesting, unknown members, escapes), invalid
 * UTF-8, random bytes. Properties: a SignedMessage or TrustError("bad-message"),
 * never a throw; an accepted message's signed bytes are the canonical JSON of
 * what was decoded (one spelling), and the addressing check returns a
 * TrustError or nothing.
 *
 * Trust-record inputs: records made by encodeTrustRecord (real P-256 keys),
 * torn (truncated), bit-flipped and random slot contents. Properties: a
 * record or undefined, never a throw; an untouched record decodes to what was
 * encoded; TrustStore.load over two random slots never throws and takes the
 * valid record with the highest counter.
 */
import { generateKeyPairSync } from "node:crypto";
import { publicKeyFromSpki } from "../../src/ota/keys.js";
import { canonicalJsonBytes } from "../../src/ota/descriptor.js";
import { encodeBase64, encodeHex } from "../../src/ota/encoding.js";
import { checkAddressing, parseSignedMessage, TrustError, type SignedMessage } from "../../src/ota/signed.js";
import { decodeTrustRecord, encodeTrustRecord, TrustStore, type TrustRecord } from "../../src/ota/trust-store.js";
import { encodeUtf8 } from "../../src/util/utf8.js";
import { assert, deepEqual, FuzzFailure, hex, type FuzzTarget, type Rng } from "../engine.js";
import { mutateBytes, mutateText, randomBytes, tokenText } from "../mutators.js";

const DICT = Object.freeze([
  '"', "{", "}", "[", "]", ",", ":", "\\", "\\u0000", "1e999", "-0", "null", "true", "false", "[[[[", "{{{{", '"format":1',
  '"type":"config"', '"type":"rotate-key"', '"counter":2147483648', '"counter":0', '"device":""', '"config":{}', '"reboot":1',
  '"x":1', "é", "😀", "04", "==",
]);

/** A few real P-256 points (made once, on first use: fuzz runs on the host). */
let keys: Uint8Array[] | undefined;
function realKeys(): Uint8Array[] {
  keys ??= Array.from({ length: 3 }, () => {
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    return publicKeyFromSpki(new Uint8Array(publicKey.export({ type: "spki", format: "der" })));
  });
  return keys;
}

function keyHex(rng: Rng): string {
  return rng.bool(0.7) ? encodeHex(rng.pick(realKeys())) : "04" + hex(rng.bytes(64));
}

function validMessage(rng: Rng): Record<string, unknown> {
  const m: Record<string, unknown> = {
    format: 1,
    counter: rng.pick([1, 2, 0x7fffffff, rng.int(1000) + 1]),
    signature: encodeBase64(rng.bytes(64)),
  };
  if (rng.bool(0.4)) m.device = rng.pick(["mote-240ac4000001", "lin-1", "x".repeat(64)]);
  if (rng.bool()) {
    m.type = "rotate-key";
    m.otaKey = keyHex(rng);
  } else {
    m.type = "config";
    const config: Record<string, unknown> = {};
    for (let i = 0, n = 1 + rng.int(4); i < n; i++)
      config[rng.pick(["broker", "mqttUser", "mqttPass", "clientId", "prefix", "ssid", "password", "telemetryMs", "otaKey"])] = rng.pick([
        "mqtts://127.0.0.1:8883",
        "mqtt://h",
        "u",
        "",
        null,
        "x".repeat(256),
      ]);
    m.config = config;
    if (rng.bool(0.3)) m.reboot = rng.bool();
  }
  return m;
}

export const signedMessageTarget: FuzzTarget<{ payload: Uint8Array }> = {
  name: "signed-message",
  description: "cmd/signed payloads (rotations, protected configs, bounds, JSON-aware mutations, junk): SignedMessage or TrustError(bad-message); canonical signed bytes; addressing check typed",
  generate(rng) {
    const mode = rng.int(8);
    if (mode === 0) return { payload: randomBytes(rng, 256) };
    if (mode === 1) return { payload: encodeUtf8(tokenText(rng, DICT, 40)) };
    const m = validMessage(rng);
    if (mode === 2) {
      const key = rng.pick(Object.keys(m));
      m[key] = rng.pick([null, 0, -1, 1.5, "", "x".repeat(3000), [], {}, true, 2 ** 53, { a: { b: 1 } }]);
    }
    let text = JSON.stringify(m);
    if (mode >= 4 && mode <= 6) text = mutateText(rng, text, DICT, 3);
    if (mode === 7) return { payload: mutateBytes(rng, encodeUtf8(text), 3) };
    return { payload: encodeUtf8(text) };
  },
  show: ({ payload }) => `hex:${hex(payload)}`,
  check({ payload }) {
    const r = parseSignedMessage(payload);
    if (r instanceof TrustError) {
      assert(r.code === "bad-message", `unexpected code ${r.code}`);
      return "error:bad-message";
    }
    const m = r as SignedMessage;
    assert(Number.isInteger(m.counter) && m.counter >= 1, "counter out of range");
    assert(m.signature.length === 64, "signature not 64 bytes");
    // One spelling: the bytes signed are the canonical JSON of the decoded fields.
    const fields: Record<string, unknown> = { format: 1, type: m.type, counter: m.counter };
    if (m.device !== undefined) fields.device = m.device;
    if (m.type === "rotate-key") fields.otaKey = encodeHex(m.otaKey);
    else {
      fields.config = m.config;
      const original = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
      if ("reboot" in original) fields.reboot = original.reboot;
    }
    assert(deepEqual(canonicalJsonBytes(fields), m.signed), "signed bytes are not the canonical form of the decoded message");
    let refusal: TrustError | undefined;
    try {
      refusal = checkAddressing(m, { clientId: "mote-240ac4000001", counter: 1, publicKey: realKeys()[0] });
    } catch (e) {
      throw new FuzzFailure(`checkAddressing threw: ${String(e)}`);
    }
    return refusal === undefined ? `ok:${m.type}` : `ok:${m.type}:refused-${refusal.code}`;
  },
};

interface RecordInput {
  slots: (Uint8Array | undefined)[];
  /** Records encoded into the slots before mutation (undefined where the slot was junk). */
  originals: (TrustRecord | undefined)[];
  mutated: boolean[];
}

function randomRecord(rng: Rng): TrustRecord {
  const config: Record<string, string> = {};
  for (let i = 0, n = rng.int(4); i < n; i++) config[rng.pick(["broker", "mqttUser", "mqttPass", "prefix"])] = rng.pick(["mqtts://h:8883", "u", "", "é😀", "x".repeat(200)]);
  return { counter: rng.pick([0, 1, 7, 0x7fffffff, rng.int(100)]), otaKey: rng.bool(0.7) ? rng.pick(realKeys()) : undefined, config };
}

export const trustRecordTarget: FuzzTarget<RecordInput> = {
  name: "trust-record",
  description: "trust record slots (valid, torn, bit-flipped, random): a record or undefined, untouched records round trip, load picks the highest valid counter",
  generate(rng) {
    const input: RecordInput = { slots: [], originals: [], mutated: [] };
    for (let s = 0; s < 2; s++) {
      const mode = rng.int(6);
      if (mode === 0) {
        input.slots.push(rng.bool(0.3) ? undefined : randomBytes(rng, 128));
        input.originals.push(undefined);
        input.mutated.push(true);
        continue;
      }
      const r = randomRecord(rng);
      let bytes = encodeTrustRecord(r);
      let mutated = false;
      if (mode === 1) {
        bytes = bytes.subarray(0, rng.int(bytes.length)); // torn
        mutated = true;
      } else if (mode === 2) {
        bytes = mutateBytes(rng, bytes, 2);
        mutated = true;
      }
      input.slots.push(bytes);
      input.originals.push(r);
      input.mutated.push(mutated);
    }
    return input;
  },
  show: ({ slots }) => slots.map((b) => (b === undefined ? "-" : `hex:${hex(b)}`)).join(" "),
  check({ slots, originals, mutated }) {
    let best: TrustRecord | undefined;
    for (let i = 0; i < slots.length; i++) {
      const r = decodeTrustRecord(slots[i]);
      const o = originals[i];
      if (!mutated[i] && o !== undefined) {
        assert(r !== undefined, "an untouched record does not decode");
        assert(r!.counter === o.counter && deepEqual(r!.config, o.config), "an untouched record decodes differently");
        assert((r!.otaKey === undefined) === (o.otaKey === undefined) && (o.otaKey === undefined || deepEqual(r!.otaKey, o.otaKey)), "key differs");
      }
      if (r !== undefined && (best === undefined || r.counter > best.counter)) best = r;
    }
    const store = new TrustStore({
      getPreference: (_d, k) => slots[k === "ta" ? 0 : 1],
      setPreference: () => {
        throw new FuzzFailure("load must not write");
      },
    });
    const loaded = store.load();
    assert(loaded.record.counter === (best?.counter ?? 0), `load took counter ${loaded.record.counter}, best valid is ${best?.counter ?? 0}`);
    return best === undefined ? "rejected" : "ok:record";
  },
};
