/**
 * MQTT data representations (MQTT 5 §1.5): two- and four-byte integers,
 * Variable Byte Integers, UTF-8 strings and binary data. Writers write into a
 * caller-sized Uint8Array and return the next offset; the Reader walks one
 * packet's bytes and throws MqttProtocolError on anything out of rule.
 */
import { decodeUtf8, utf8Length, writeUtf8 } from "../util/utf8.js";
import { malformed } from "./errors.js";
import { MoteError } from "../errors.js";
import type { AckPacket } from "./packets.js";

/** MQTT 5 §1.5.5: the largest Variable Byte Integer (4 bytes). */
export const MAX_VARINT = 268_435_455;
/** MQTT 5 §1.5.4: strings and binary data carry a 16-bit length. */
export const MAX_STRING_BYTES = 65_535;

export function varintLength(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

export function writeVarint(n: number, out: Uint8Array, o: number): number {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n > 0) b |= 0x80;
    out[o++] = b;
  } while (n > 0);
  return o;
}

export function writeU16(n: number, out: Uint8Array, o: number): number {
  out[o] = n >>> 8;
  out[o + 1] = n & 0xff;
  return o + 2;
}

export function writeU32(n: number, out: Uint8Array, o: number): number {
  out[o] = n >>> 24;
  out[o + 1] = (n >>> 16) & 0xff;
  out[o + 2] = (n >>> 8) & 0xff;
  out[o + 3] = n & 0xff;
  return o + 4;
}

/** Encoded size of a UTF-8 string field (2-byte length prefix + bytes). */
export function stringSize(s: string): number {
  const n = utf8Length(s);
  if (n > MAX_STRING_BYTES) throw new MoteError("string-too-long", `${n} bytes > 65535`);
  return 2 + n;
}

export function binarySize(b: Uint8Array): number {
  if (b.length > MAX_STRING_BYTES) throw new MoteError("binary-too-long", `${b.length} bytes > 65535`);
  return 2 + b.length;
}

export function writeString(s: string, out: Uint8Array, o: number): number {
  const end = writeUtf8(s, out, o + 2);
  writeU16(end - o - 2, out, o);
  return end;
}

export function writeBinary(b: Uint8Array, out: Uint8Array, o: number): number {
  o = writeU16(b.length, out, o);
  out.set(b, o);
  return o + b.length;
}

/** Walks the bytes of one packet; every read checks the packet's end. */
export class Reader {
  bytes: Uint8Array;
  pos: number;
  end: number;
  /** An acknowledgement object the decoder fills again for each PUBACK / PUBREC / PUBREL / PUBCOMP (the session's decoder), or undefined: a new one each. */
  ack: AckPacket | undefined = undefined;
  /** `bytes` are written again after this decode (a borrowed read, PacketStream.push): binary fields and payloads are copied out. */
  copy = false;
  constructor(bytes: Uint8Array, pos: number, end: number) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
  }
  remaining(): number {
    return this.end - this.pos;
  }
  #need(n: number, what: string): void {
    if (this.pos + n > this.end) throw malformed(`truncated ${what}`);
  }
  u8(what = "byte"): number {
    this.#need(1, what);
    return this.bytes[this.pos++];
  }
  u16(what = "two-byte integer"): number {
    this.#need(2, what);
    const b = this.bytes;
    const v = (b[this.pos] << 8) | b[this.pos + 1];
    this.pos += 2;
    return v;
  }
  u32(what = "four-byte integer"): number {
    this.#need(4, what);
    const b = this.bytes;
    const p = this.pos;
    this.pos += 4;
    return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }
  /** MQTT 5 §1.5.5: at most 4 bytes; a 5th continuation is malformed. */
  varint(what = "variable byte integer"): number {
    let value = 0;
    let mult = 1;
    for (let i = 0; i < 4; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * mult;
      if ((b & 0x80) === 0) {
        // §1.5.5 asks for the minimum number of bytes; a trailing 0x00 byte is an overlong form.
        if (i > 0 && b === 0) throw malformed(`non-minimal ${what}`);
        return value;
      }
      mult *= 128;
    }
    throw malformed(`${what} longer than 4 bytes`);
  }
  /** MQTT 5 §1.5.4: well-formed UTF-8, no U+0000, no surrogates. */
  utf8(what = "string"): string {
    const n = this.u16(what);
    this.#need(n, what);
    const r = decodeUtf8(this.bytes, this.pos, this.pos + n, false);
    if (typeof r !== "string") throw malformed(`${what}: ${r.fault} UTF-8`);
    this.pos += n;
    return r;
  }
  /** Binary data as a view (no copy), or a copy when `copy` is set. */
  binary(what = "binary data"): Uint8Array {
    const n = this.u16(what);
    this.#need(n, what);
    const v = this.#view(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  rest(): Uint8Array {
    const v = this.#view(this.pos, this.end);
    this.pos = this.end;
    return v;
  }
  #view(from: number, to: number): Uint8Array {
    return this.copy ? this.bytes.slice(from, to) : this.bytes.subarray(from, to);
  }
}
