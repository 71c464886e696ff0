/**
 * PEM and DER certificates/keys (RFC 7468, X.690 §8.1 lengths) into
 * `decodePem` and `derOf` (src/util/pem.ts), the decoder every TLS CA,
 * client certificate and key goes through before Moddable's x509 sees it.
 *
 * Inputs: PEM documents built from random DER-like bodies (sometimes one
 * well-formed SEQUENCE) with random labels, line lengths, CR/LF/CRLF line
 * ends, blanks and explanatory text, then mutated with a PEM dictionary
 * (boundaries, "=", headers, non-base64 characters) or as bytes; plus bare
 * DER, truncated or extended, and random bytes.
 *
 * Properties: a list of blocks or a PemError with a pem- or der- code, never
 * another exception; unmutated documents decode to exactly the bodies they
 * were built from (Node's base64 encoder is the reference); at most 4
 * blocks; `derOf` returns one whole DER SEQUENCE or a PemError.
 */
import { PemError, decodePem, derOf, isDerSequence } from "../../src/util/pem.js";
import { assert, showValue, type FuzzTarget, type Rng } from "../engine.js";
import { mutateBytes, mutateText, randomBytes } from "../mutators.js";

export interface PemInput {
  /** The document as latin1 text (bytes 0..255). */
  text: string;
  /** The bodies it was built from, when unmutated (hex). */
  bodies?: string[];
}

const LABELS = Object.freeze(["CERTIFICATE", "PRIVATE KEY", "X509 CERTIFICATE", "RSA PRIVATE KEY", "A-B C", "", "x"]);
const DICT = Object.freeze([
  "-----BEGIN ", "-----END ", "-----", "CERTIFICATE", "PRIVATE KEY", "=", "==", "===", "\n", "\r\n", "\r", " ", "\t", ":",
  "Proc-Type: 4,ENCRYPTED", "+", "/", "-", "A", "0", "\u0000", "\u00ff", "é", "MII", "-----BEGIN CERTIFICATE-----",
  "-----END CERTIFICATE-----",
]);

/** A DER SEQUENCE header and `n` body bytes: short or long length form (X.690 §8.1.3). */
function sequence(rng: Rng, n: number): Uint8Array {
  const body = rng.bytes(n);
  const header = n < 128 && rng.bool(0.7) ? [0x30, n] : n < 256 ? [0x30, 0x81, n] : [0x30, 0x82, n >> 8, n & 0xff];
  return new Uint8Array([...header, ...body]);
}

function body(rng: Rng): Uint8Array {
  return rng.bool(0.6) ? sequence(rng, rng.size(300)) : randomBytes(rng, 80);
}

function pemText(rng: Rng, bodies: Uint8Array[]): string {
  const eol = rng.pick(["\n", "\r\n", "\r"]);
  const width = rng.pick([64, 64, 76, 4, 1, 1000]);
  let s = rng.bool(0.2) ? `subject=CN = x${eol}` : "";
  for (const b of bodies) {
    const label = rng.pick(LABELS);
    const b64 = Buffer.from(b).toString("base64");
    s += `-----BEGIN ${label}-----${eol}`;
    for (let i = 0; i < b64.length; i += width) s += (rng.bool(0.05) ? " " : "") + b64.slice(i, i + width) + eol;
    s += `-----END ${label}-----${rng.bool(0.8) ? eol : ""}`;
    if (rng.bool(0.2)) s += `explanatory text${eol}`;
  }
  return s;
}

export function generatePem(rng: Rng): PemInput {
  const mode = rng.int(8);
  if (mode === 0) return { text: Buffer.from(randomBytes(rng, 200)).toString("latin1") };
  if (mode === 1) {
    const der = body(rng);
    const bytes = rng.bool() ? der : mutateBytes(rng, der, 2);
    return { text: Buffer.from(bytes).toString("latin1") };
  }
  const bodies: Uint8Array[] = [];
  const n = 1 + rng.size(5);
  for (let k = 0; k < n; k++) bodies.push(body(rng));
  const text = pemText(rng, bodies);
  if (mode <= 4) return { text, bodies: bodies.map((b) => Buffer.from(b).toString("hex")) };
  if (mode <= 6) return { text: mutateText(rng, text, DICT, 3) };
  return { text: Buffer.from(mutateBytes(rng, new Uint8Array(Buffer.from(text, "latin1")), 3)).toString("latin1") };
}

function typed(e: unknown): string {
  if (e instanceof PemError && /^(pem|der)-/.test(e.code)) return `error:${e.code}`;
  throw e;
}

export const pemTarget: FuzzTarget<PemInput> = {
  name: "pem",
  description: "PEM/DER certificates and keys (built, mutated, random) into decodePem/derOf: blocks or PemError; unmutated documents round-trip",
  generate: generatePem,
  show: (input) => showValue(input),
  check(input) {
    const bytes = new Uint8Array(Buffer.from(input.text, "latin1"));
    let outcome: string;
    try {
      const blocks = decodePem(bytes);
      assert(blocks.length >= 1 && blocks.length <= 4, `${blocks.length} blocks`);
      for (const b of blocks) assert(b.der.length > 0, "an empty block was accepted");
      if (input.bodies !== undefined) {
        const got = blocks.map((b) => Buffer.from(b.der).toString("hex"));
        const want = input.bodies.filter((h) => h.length > 0);
        assert(got.length === want.length && got.every((h, i) => h === want[i]), `decoded ${got.length} bodies, built ${want.length}, or they differ`);
      }
      outcome = "ok:pem";
    } catch (e) {
      outcome = typed(e);
      // a document built unmutated fails only for the reasons the builder can make
      if (input.bodies !== undefined)
        assert(["error:pem-boundary", "error:pem-empty", "error:pem-too-many"].includes(outcome), `built document refused: ${outcome}`);
    }
    try {
      const der = derOf(bytes, ["CERTIFICATE", "PRIVATE KEY"], "the input");
      assert(isDerSequence(der), "derOf returned bytes that are not one DER SEQUENCE");
      return outcome === "ok:pem" ? "ok:pem" : "ok:der";
    } catch (e) {
      const code = typed(e);
      return outcome === "ok:pem" ? outcome : code;
    }
  },
};
