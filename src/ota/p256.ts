/**
 * ECDSA P-256 signature verification in plain ECMAScript BigInt.
 *
 * Why it exists: the Moddable SDK's `crypt` module documents `Digest` but not
 * a public-key verify API (its `ecdsa`/`curve` modules are internals of the
 * TLS stack with their own object model), so the device verifies descriptor
 * signatures here. XS implements BigInt; one verify is ~256 doublings and
 * ~200 additions in Jacobian coordinates — done once per update, never on a
 * hot path. Verification uses only public data, so constant time is not a
 * goal.
 *
 * Curve: NIST P-256 / secp256r1, FIPS 186-4 §D.1.2.3 (a = -3).
 * Algorithm: FIPS 186-4 §6.4 / SEC 1 v2 §4.1.4 (ECDSA verification).
 * Formulas: Jacobian doubling for a = -3 ("dbl-2001-b") and general addition
 * ("add-2007-bl") from the Explicit-Formulas Database.
 */

/**
 * The curve's constants, made at the first verify. A BigInt created while
 * Moddable preloads a module makes its linker (xsl 8.2.3) write past its
 * BigInt table, so none exists at module level (docs/moddable.md).
 */
interface Curve {
  readonly P: bigint;
  readonly N: bigint;
  readonly B: bigint;
  readonly GX: bigint;
  readonly GY: bigint;
  readonly INFINITY: Jacobian;
}
let curve: Curve | undefined;
function p256(): Curve {
  return (curve ??= {
    P: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    N: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    B: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    GX: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    GY: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    INFINITY: [1n, 1n, 0n],
  });
}

/** A point in Jacobian coordinates (X/Z², Y/Z³); Z = 0 is the point at infinity. */
type Jacobian = readonly [bigint, bigint, bigint];

function mod(x: bigint, m: bigint): bigint {
  const r = x % m;
  return r < 0n ? r + m : r;
}

function modPow(base: bigint, exponent: bigint, m: bigint): bigint {
  let result = 1n;
  let b = mod(base, m);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return result;
}

/** Inverse modulo a prime (Fermat). `x` must not be 0 mod m. */
function modInverse(x: bigint, m: bigint): bigint {
  return modPow(x, m - 2n, m);
}

function double(p1: Jacobian): Jacobian {
  const { P, INFINITY } = p256();
  const [x1, y1, z1] = p1;
  if (z1 === 0n || y1 === 0n) return INFINITY;
  const delta = (z1 * z1) % P;
  const gamma = (y1 * y1) % P;
  const beta = (x1 * gamma) % P;
  const alpha = mod(3n * (x1 - delta) * (x1 + delta), P);
  const x3 = mod(alpha * alpha - 8n * beta, P);
  const z3 = mod((y1 + z1) * (y1 + z1) - gamma - delta, P);
  const y3 = mod(alpha * (4n * beta - x3) - 8n * ((gamma * gamma) % P), P);
  return [x3, y3, z3];
}

function add(p1: Jacobian, p2: Jacobian): Jacobian {
  const [x1, y1, z1] = p1;
  const [x2, y2, z2] = p2;
  if (z1 === 0n) return p2;
  if (z2 === 0n) return p1;
  const { P, INFINITY } = p256();
  const z1z1 = (z1 * z1) % P;
  const z2z2 = (z2 * z2) % P;
  const u1 = (x1 * z2z2) % P;
  const u2 = (x2 * z1z1) % P;
  const s1 = (((y1 * z2) % P) * z2z2) % P;
  const s2 = (((y2 * z1) % P) * z1z1) % P;
  const h = mod(u2 - u1, P);
  const r = mod(2n * (s2 - s1), P);
  if (h === 0n) return r === 0n ? double(p1) : INFINITY; // same point, or P + (-P)
  const i = (4n * h * h) % P;
  const j = (h * i) % P;
  const v = (u1 * i) % P;
  const x3 = mod(r * r - j - 2n * v, P);
  const y3 = mod(r * (v - x3) - 2n * ((s1 * j) % P), P);
  const z3 = mod(((z1 + z2) * (z1 + z2) - z1z1 - z2z2) * h, P);
  return [x3, y3, z3];
}

/** u1·G + u2·Q by Shamir's trick (one shared doubling chain). */
function mulAdd(u1: bigint, q: Jacobian, u2: bigint): Jacobian {
  const { GX, GY, INFINITY } = p256();
  const g: Jacobian = [GX, GY, 1n];
  const gq = add(g, q);
  let acc = INFINITY;
  for (let bit = 255n; bit >= 0n; bit--) {
    acc = double(acc);
    const b1 = (u1 >> bit) & 1n;
    const b2 = (u2 >> bit) & 1n;
    if (b1 && b2) acc = add(acc, gq);
    else if (b1) acc = add(acc, g);
    else if (b2) acc = add(acc, q);
  }
  return acc;
}

function toBigInt(bytes: Uint8Array, start: number, end: number): bigint {
  let hex = "0x0";
  for (let i = start; i < end; i++) hex += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  return BigInt(hex);
}

/** Whether `publicKey` is a 65-byte uncompressed P-256 point on the curve (SEC 1 §2.3.4, §3.2.2.1). */
export function isValidP256PublicKey(publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 65 || publicKey[0] !== 4) return false;
  const x = toBigInt(publicKey, 1, 33);
  const y = toBigInt(publicKey, 33, 65);
  const { P, B } = p256();
  if (x >= P || y >= P) return false;
  const rhs = mod(x * x * x - 3n * x + B, P);
  return (y * y) % P === rhs; // cofactor 1: on the curve implies order n
}

/**
 * FIPS 186-4 §6.4.2: verifies a 64-byte r||s signature over a 32-byte
 * SHA-256 `digest` with a 65-byte uncompressed public key. Returns false for
 * anything malformed — it never throws on bad input.
 */
export function verifyP256(publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean {
  if (!(digest instanceof Uint8Array) || digest.length !== 32) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  if (!isValidP256PublicKey(publicKey)) return false;
  const r = toBigInt(signature, 0, 32);
  const s = toBigInt(signature, 32, 64);
  const { P, N } = p256();
  if (r <= 0n || r >= N || s <= 0n || s >= N) return false; // §6.4.2 step 1
  const e = toBigInt(digest, 0, 32); // 256-bit hash, 256-bit n: no truncation
  const w = modInverse(s, N);
  const u1 = (e * w) % N;
  const u2 = (r * w) % N;
  const q: Jacobian = [toBigInt(publicKey, 1, 33), toBigInt(publicKey, 33, 65), 1n];
  const point = mulAdd(u1, q, u2);
  if (point[2] === 0n) return false;
  const zInv = modInverse(point[2], P);
  const x = (point[0] * ((zInv * zInv) % P)) % P;
  return x % N === r;
}
