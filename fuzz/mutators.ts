/**
 * Generic mutators for byte strings and text, and random chunkings.
 *
 * Byte mutations (AFL/libFuzzer's usual set, written for this engine): bit
 * flips, interesting byte values, insert/delete/duplicate a range (duplicate
 * fields and properties), truncation, appending junk, splicing two seeds,
 * 16-bit length fields pushed to their limits, and huge variable-length
 * integers (MQTT 5 §1.5.5 style 0xFF 0xFF 0xFF 0x7F runs). Text mutations do
 * the same over characters with a per-target dictionary of tokens.
 */
import type { Rng } from "./engine.js";

const INTERESTING_8 = Object.freeze([0x00, 0x01, 0x02, 0x0d, 0x0e, 0x0f, 0x10, 0x7f, 0x80, 0x81, 0xc0, 0xfe, 0xff]);
const INTERESTING_16 = Object.freeze([0x0000, 0x0001, 0x00ff, 0x0100, 0x7fff, 0x8000, 0xfffe, 0xffff]);
const HUGE_VARINTS: readonly (readonly number[])[] = Object.freeze([
  [0xff, 0xff, 0xff, 0x7f], // 268,435,455 — the largest legal value
  [0xff, 0xff, 0xff, 0xff, 0x7f], // five bytes: illegal
  [0x80, 0x80, 0x80, 0x80, 0x01],
  [0x80, 0x00], // non-minimal zero
  [0xff, 0x7f],
  [0x80, 0x80, 0x80, 0x01],
]);

/** Applies 1..maxOps random byte mutations to a copy of `input`. */
export function mutateBytes(rng: Rng, input: Uint8Array, maxOps = 4, others: readonly Uint8Array[] = []): Uint8Array {
  let b = Array.from(input);
  const ops = 1 + rng.int(maxOps);
  for (let k = 0; k < ops; k++) {
    const at = rng.int(b.length + 1);
    switch (rng.int(12)) {
      case 0: // bit flip
        if (b.length) b[at % b.length] ^= 1 << rng.int(8);
        break;
      case 1: // interesting byte
        if (b.length) b[at % b.length] = rng.pick(INTERESTING_8);
        break;
      case 2: // random byte
        if (b.length) b[at % b.length] = rng.int(256);
        break;
      case 3: // insert random bytes
        b.splice(at, 0, ...Array.from(rng.bytes(1 + rng.size(16))));
        break;
      case 4: // delete a range
        b.splice(at, 1 + rng.size(16));
        break;
      case 5: {
        // duplicate a range (repeated fields, duplicate properties)
        if (!b.length) break;
        const from = rng.int(b.length);
        const len = 1 + rng.size(Math.min(32, b.length - from - 1));
        b.splice(at, 0, ...b.slice(from, from + len));
        break;
      }
      case 6: // truncate
        b = b.slice(0, rng.int(b.length + 1));
        break;
      case 7: // append junk
        b.push(...Array.from(rng.bytes(1 + rng.size(32))));
        break;
      case 8: {
        // 16-bit field pushed to a limit
        if (b.length < 2) break;
        const p = rng.int(b.length - 1);
        const v = rng.pick(INTERESTING_16);
        b[p] = v >> 8;
        b[p + 1] = v & 0xff;
        break;
      }
      case 9: // huge varint written over or inserted
        if (rng.bool()) b.splice(at, 0, ...rng.pick(HUGE_VARINTS));
        else b.splice(at, rng.pick(HUGE_VARINTS).length, ...rng.pick(HUGE_VARINTS));
        break;
      case 10: {
        // splice with another seed
        if (!others.length) break;
        const o = rng.pick(others);
        const from = rng.int(o.length + 1);
        b = b.slice(0, at).concat(Array.from(o.subarray(from, from + rng.size(o.length))));
        break;
      }
      case 11: {
        // swap two bytes
        if (b.length < 2) break;
        const i = rng.int(b.length);
        const j = rng.int(b.length);
        [b[i], b[j]] = [b[j], b[i]];
        break;
      }
    }
  }
  return Uint8Array.from(b);
}

/** Random bytes of a random (mostly small) length up to `max`. */
export function randomBytes(rng: Rng, max: number): Uint8Array {
  return rng.bytes(rng.size(max));
}

/** Splits `n` bytes into random pieces: their end offsets (the last is n). */
export function randomChunking(rng: Rng, n: number): number[] {
  const ends: number[] = [];
  const style = rng.int(4);
  let at = 0;
  while (at < n) {
    const step = style === 0 ? 1 : style === 1 ? 1 + rng.int(3) : style === 2 ? 1 + rng.size(64) : n - at;
    at = Math.min(n, at + step);
    ends.push(at);
  }
  return ends;
}

/** Applies 1..maxOps character-level mutations; tokens come from `dictionary`. */
export function mutateText(rng: Rng, input: string, dictionary: readonly string[], maxOps = 4): string {
  let s = input;
  const ops = 1 + rng.int(maxOps);
  for (let k = 0; k < ops; k++) {
    const at = rng.int(s.length + 1);
    switch (rng.int(8)) {
      case 0:
        s = s.slice(0, at) + rng.pick(dictionary) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + rng.size(8));
        break;
      case 2: {
        const from = rng.int(s.length + 1);
        s = s.slice(0, at) + s.slice(from, from + 1 + rng.size(16)) + s.slice(at);
        break;
      }
      case 3:
        s = s.slice(0, at);
        break;
      case 4:
        s = s.slice(0, at) + randomChar(rng) + s.slice(at + 1);
        break;
      case 5: // repeat a token many times (long inputs, deep nesting)
        s = s.slice(0, at) + rng.pick(dictionary).repeat(1 + rng.size(200)) + s.slice(at);
        break;
      case 6:
        s = s.slice(0, at) + rng.pick(dictionary) + s.slice(at + 1);
        break;
      case 7:
        s = s.slice(0, at) + randomText(rng, 8) + s.slice(at);
        break;
    }
  }
  return s;
}

const CHAR_CLASSES: readonly (readonly [number, number])[] = Object.freeze([
  [0x20, 0x7e], // printable ASCII, most often
  [0x20, 0x7e],
  [0x20, 0x7e],
  [0x00, 0x1f], // controls
  [0x80, 0x7ff],
  [0xd800, 0xdfff], // lone surrogates
  [0xe000, 0xffff],
]);

export function randomChar(rng: Rng): string {
  const [lo, hi] = rng.pick(CHAR_CLASSES);
  if (rng.int(50) === 0) return String.fromCodePoint(0x10000 + rng.int(0xfffff)); // astral pair
  return String.fromCharCode(rng.range(lo, hi));
}

export function randomText(rng: Rng, max: number): string {
  let s = "";
  const n = rng.size(max);
  for (let i = 0; i < n; i++) s += randomChar(rng);
  return s;
}

/** Text built from dictionary tokens and random characters. */
export function tokenText(rng: Rng, dictionary: readonly string[], maxTokens: number): string {
  let s = "";
  const n = rng.size(maxTokens);
  for (let i = 0; i < n; i++) s += rng.bool(0.8) ? rng.pick(dictionary) : randomChar(rng);
  return s;
}
