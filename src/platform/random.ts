/**
 * Random numbers for protocol identifiers (MQTT client ids, CoAP message ids
 * and tokens — RFC 7252 §5.3.1 asks for tokens that are hard to guess).
 * XS's Math.random on the ESP32 draws from the hardware RNG (esp_random);
 * on the desktop it is V8's / XS's generator. Not for key material.
 */
import { MoteError } from "../errors.js";

/** Largest buffer one call may ask for. */
export const MAX_RANDOM_BYTES = 65536;

export function randomBytes(count: number): Uint8Array {
  if (!Number.isInteger(count) || count < 0 || count > MAX_RANDOM_BYTES)
    throw new MoteError("invalid-argument", `count must be an integer 0..${MAX_RANDOM_BYTES}`);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.floor(Math.random() * 256);
  return out;
}

/** A uniformly random integer in [0, maxExclusive). */
export function randomInt(maxExclusive: number): number {
  if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > 0x1_0000_0000)
    throw new MoteError("invalid-argument", "maxExclusive must be an integer 1..2^32");
  return Math.floor(Math.random() * maxExclusive);
}
