/**
 * A JSON object written straight into UTF-8 bytes, for a record the device
 * sends over and over (telemetry). `encodeUtf8(JSON.stringify(record))` made,
 * per record on XS, the record object, a key list per object, the JSON
 * string and its bytes. Here the members go into one scratch array kept by
 * the writer, and `end()` hands back one exact-size copy (the caller keeps
 * the bytes until the broker acknowledges them).
 *
 * Names (and constant strings) are given as bytes made once with `jsonKey` /
 * `jsonBytes`: on XS every read of a primitive string's `length` or
 * `charCodeAt` makes a String wrapper on the heap, so a writer that walked
 * strings character by character made ~500 slots of garbage a record
 * (measured, bench/RESULTS.md). Integers are written digit by digit.
 *
 * The bytes are what JSON.stringify gives for the same members in the same
 * order (ECMA-262 §25.5.2): a member whose value is `undefined` (or, for
 * `value()`, anything JSON.stringify leaves out) is left out; a number that is
 * not finite is `null`; -0 is `0`; other numbers as `Number.prototype.toString`.
 *
 * Bounded: the scratch doubles up to `maxBytes`; a larger record throws
 * MoteError "overflow" and the writer is ready for the next one.
 */
import { MoteError } from "../errors.js";
import { encodeUtf8 } from "./utf8.js";

/** 2^53 − 1: integers up to it are written digit by digit, exactly as toString writes them. */
const MAX_EXACT = 9007199254740991;
const NULL = encodeUtf8("null");

/** `"name":` as bytes, to make once per name. */
export function jsonKey(name: string): Uint8Array {
  return encodeUtf8(JSON.stringify(name) + ":");
}

/** Any value as JSON bytes (a constant string member, made once). */
export function jsonBytes(value: unknown): Uint8Array | undefined {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : encodeUtf8(text);
}

export class JsonWriter {
  #buf: Uint8Array;
  /** The last view endView() handed out. */
  #view: Uint8Array | undefined;
  #at = 0;
  /** No comma before the next member (just after a `{`). */
  #first = true;
  #depth = 0;
  readonly #maxBytes: number;

  constructor(initialBytes = 256, maxBytes = 16_384) {
    this.#buf = new Uint8Array(initialBytes);
    this.#maxBytes = maxBytes;
  }

  /** Starts a record: `{`. Whatever an earlier record left unfinished is dropped. */
  begin(): void {
    this.#at = 0;
    this.#depth = 0;
    this.#open();
  }

  /** `"name":{` (key from `jsonKey`) — members until `close()` go inside it. */
  open(key: Uint8Array): void {
    this.#key(key);
    this.#open();
  }

  /** `}` of the innermost open object. */
  close(): void {
    if (this.#depth === 0) throw new MoteError("invalid-state", "close() without an open object");
    this.#byte(0x7d);
    this.#depth--;
    this.#first = false;
  }

  /** A number member; `undefined` leaves it out. */
  number(key: Uint8Array, n: number | undefined): void {
    if (n === undefined) return;
    this.#key(key);
    this.#number(n);
    this.#first = false;
  }

  /** A member whose value is already JSON bytes (`jsonBytes`); `undefined` leaves it out. */
  bytes(key: Uint8Array, json: Uint8Array | undefined): void {
    if (json === undefined) return;
    this.#key(key);
    this.#put(json);
    this.#first = false;
  }

  /** Any value: numbers digit by digit, anything else through JSON.stringify (left out where it leaves it out). */
  value(key: Uint8Array, v: unknown): void {
    // a number of any kind without `typeof v === "number"`: in preloaded code a literal is a chunk per run (src/mqtt/names.ts)
    if (Number.isFinite(v) || Number.isNaN(v) || v === Infinity || v === -Infinity) return this.number(key, v as number);
    this.bytes(key, jsonBytes(v));
  }

  /** Closes every object still open and returns the record's bytes (a copy of exact size). */
  end(): Uint8Array {
    return this.endView().slice();
  }

  /**
   * `end()` without the copy: a view of the writer's scratch, valid until the
   * next `begin()` — for a reader that takes the bytes during its call (the
   * MQTT client's send(), which copies them into the PUBLISH).
   */
  endView(): Uint8Array {
    while (this.#depth > 0) this.close();
    // a record as long as the last one gets the same view object (a telemetry record's
    // length seldom changes): a view per record was 4 slots of garbage on XS
    const last = this.#view;
    if (last !== undefined && last.buffer === this.#buf.buffer && last.length === this.#at) return last;
    return (this.#view = this.#buf.subarray(0, this.#at));
  }

  #open(): void {
    this.#byte(0x7b);
    this.#depth++;
    this.#first = true;
  }

  #key(key: Uint8Array): void {
    if (this.#depth === 0) throw new MoteError("invalid-state", "a member outside an object: begin() first");
    if (!this.#first) this.#byte(0x2c);
    this.#put(key);
  }

  #number(n: number): void {
    if (n !== n || n === Infinity || n === -Infinity) return this.#put(NULL);
    if (n === 0) return this.#byte(0x30); // -0 too
    const abs = n < 0 ? -n : n;
    if (Number.isInteger(n)) return abs > MAX_EXACT ? this.#put(encodeUtf8(String(n))) : this.#decimal(n < 0, abs, 0, 0);
    // A fraction of at most 6 digits, the fewest that give n back — what
    // Number.prototype.toString writes (ECMA-262 §6.1.6.1.20) — as digits: String(n)
    // and its bytes were two allocations per sensor reading on XS. Below 1e9 the
    // scaled value has at most 15 digits, exact in a double.
    if (abs >= 1e-6 && abs < 1e9)
      for (let places = 1, p = 10; places <= 6; places++, p *= 10) {
        const scaled = Math.round(abs * p);
        if (scaled / p === abs) return this.#decimal(n < 0, (scaled - (scaled % p)) / p, scaled % p, places);
      }
    this.#put(encodeUtf8(String(n)));
  }

  /** `-`? then `whole`, then `.` and `fraction` in `places` digits (zeros in front) when places > 0. */
  #decimal(negative: boolean, whole: number, fraction: number, places: number): void {
    let digits = 1;
    for (let p = 10; p <= whole; p *= 10) digits++;
    const size = (negative ? 1 : 0) + digits + (places > 0 ? 1 + places : 0);
    this.#room(size);
    const buf = this.#buf;
    let i = this.#at + size - 1;
    // right to left: `% 10` and dividing a multiple of 10 by 10 are exact below 2^53
    for (let k = 0; k < places; k++) {
      const d = fraction % 10;
      buf[i--] = 0x30 + d;
      fraction = (fraction - d) / 10;
    }
    if (places > 0) buf[i--] = 0x2e;
    for (let k = 0; k < digits; k++) {
      const d = whole % 10;
      buf[i--] = 0x30 + d;
      whole = (whole - d) / 10;
    }
    if (negative) buf[i] = 0x2d;
    this.#at += size;
  }


  #byte(b: number): void {
    this.#room(1);
    this.#buf[this.#at++] = b;
  }

  #put(bytes: Uint8Array): void {
    this.#room(bytes.length);
    this.#buf.set(bytes, this.#at);
    this.#at += bytes.length;
  }

  /** Room for `n` more bytes: the scratch doubles, up to maxBytes. */
  #room(n: number): void {
    const need = this.#at + n;
    if (need <= this.#buf.length) return;
    if (need > this.#maxBytes) {
      this.#at = 0;
      this.#depth = 0;
      throw new MoteError("overflow", `JSON record larger than ${this.#maxBytes} bytes`);
    }
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(size < this.#maxBytes ? size : this.#maxBytes);
    grown.set(this.#buf.subarray(0, this.#at));
    this.#buf = grown;
  }
}
