/**
 * Wire format of the XS bridge (both directions over xsnap's command channel).
 *
 * A message is one ArrayBuffer:
 *
 *   [u32 LE: byte length J of the JSON text][J bytes: JSON, UTF-8][binary section]
 *
 * The JSON carries the value tree. Things JSON cannot say are tagged objects
 * with the key "$$":
 *   {"$$":"u"}                              undefined
 *   {"$$":"n","v":"NaN"|"Infinity"|"-Infinity"|"-0"}
 *   {"$$":"i","v":"123"}                    bigint
 *   {"$$":"b","t":"Uint8Array","o":0,"n":5,"p":{...}}  bytes at [o, o+n) of
 *                                           the binary section; t = ArrayBuffer,
 *                                           DataView or a typed array name; p =
 *                                           extra own properties of an ArrayBuffer
 *                                           (a Moddable UDP packet is an
 *                                           ArrayBuffer with .address and .port)
 *   {"$$":"e","name":..,"message":..,"code":..}  an Error
 *   {"$$":"o","v":{...}}                    a plain object that itself has "$$"
 *   {"$$":"h","id":n,"sh":{...}}            a host (Node) object, by handle
 *   {"$$":"f","id":n}                       an XS function (a callback), by id
 * Handles and function ids are opaque to this codec: each side supplies a
 * `RefHooks` that turns its own non-data values into tags and back.
 *
 * This file runs on both sides (Node, and inside xsnap), so it uses only
 * ECMAScript plus TextEncoder/TextDecoder, which xsnap provides. It is bridge
 * code, never part of a device build.
 */

import { MoteError } from "../../src/errors.js";

export type Tag = { $$: string; [k: string]: unknown };

/** Codes of the bridge's wire faults. */
export type WireFault = "bad-message" | "too-deep";

/** A message that is not a well-formed bridge message, or a value the wire cannot carry. */
export class WireError extends MoteError<WireFault> {
  constructor(code: WireFault, message: string) {
    super(code, message);
    this.name = "WireError";
  }
}

export interface RefHooks {
  /** A function or a non-plain object is about to cross: its tag. */
  exportRef(value: object): Tag;
  /** A "h" or "f" tag arrived: the local value that stands for it. */
  importRef(tag: Tag): unknown;
  /** Whether `value` is passed as data (own enumerable properties). */
  isPlain(value: object): boolean;
}

/** Bound on a single message's JSON part, so a bug cannot make a runaway allocation. */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const BINARY_TYPES: Record<string, new (b: ArrayBuffer, o: number, n: number) => ArrayBufferView> = {
  Uint8Array,
  Int8Array,
  Uint8ClampedArray,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView: DataView as unknown as new (b: ArrayBuffer, o: number, n: number) => ArrayBufferView,
};

/** Collects binary segments while a value tree is encoded. */
class Segments {
  readonly parts: ArrayBuffer[] = [];
  length = 0;
  add(buffer: ArrayBuffer, offset: number, byteLength: number): number {
    const at = this.length;
    // ArrayBuffer.prototype.slice is a plain memcpy on both engines, far
    // cheaper in XS than TypedArray.prototype.set (DESIGN.md §4).
    this.parts.push(offset === 0 && byteLength === buffer.byteLength ? buffer : buffer.slice(offset, offset + byteLength));
    this.length += byteLength;
    return at;
  }
}

/** Own enumerable properties of an ArrayBuffer (typed arrays: only indices, never listed — far too slow on big ones). */
function extraProps(value: ArrayBuffer, hooks: RefHooks, segs: Segments, depth: number): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(value)) (out ??= {})[k] = encodeValue((value as unknown as Record<string, unknown>)[k], hooks, segs, depth + 1);
  return out;
}

const MAX_DEPTH = 64;

function encodeValue(value: unknown, hooks: RefHooks, segs: Segments, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new WireError("too-deep", `value nested deeper than ${MAX_DEPTH} (a cycle?)`);
  switch (typeof value) {
    case "undefined":
      return { $$: "u" };
    case "number":
      if (Number.isFinite(value)) return Object.is(value, -0) ? { $$: "n", v: "-0" } : value;
      return { $$: "n", v: String(value) };
    case "bigint":
      return { $$: "i", v: value.toString() };
    case "string":
    case "boolean":
      return value;
    case "symbol":
      return { $$: "u" };
    case "function":
      return hooks.exportRef(value);
  }
  if (value === null) return null;
  const obj = value as object;
  if (obj instanceof ArrayBuffer) {
    const o = segs.add(obj, 0, obj.byteLength);
    const p = extraProps(obj, hooks, segs, depth);
    return p ? { $$: "b", t: "ArrayBuffer", o, n: obj.byteLength, p } : { $$: "b", t: "ArrayBuffer", o, n: obj.byteLength };
  }
  if (ArrayBuffer.isView(obj)) {
    const t = obj instanceof DataView ? "DataView" : (obj.constructor as { name: string }).name;
    const o = segs.add(obj.buffer as ArrayBuffer, obj.byteOffset, obj.byteLength);
    return { $$: "b", t, o, n: obj.byteLength };
  }
  if (obj instanceof Error) {
    const e = obj as Error & { code?: unknown };
    return { $$: "e", name: e.name, message: e.message, code: typeof e.code === "string" ? e.code : undefined };
  }
  if (Array.isArray(obj)) return obj.map((v) => encodeValue(v, hooks, segs, depth + 1));
  if (!hooks.isPlain(obj)) return hooks.exportRef(obj);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) out[k] = encodeValue((obj as Record<string, unknown>)[k], hooks, segs, depth + 1);
  return "$$" in out ? { $$: "o", v: out } : out;
}

function decodeValue(value: unknown, hooks: RefHooks, binary: ArrayBuffer, base: number, depth = 0): unknown {
  if (value === null || typeof value !== "object") return value;
  if (depth > MAX_DEPTH) throw new WireError("too-deep", `value nested deeper than ${MAX_DEPTH}`);
  if (Array.isArray(value)) return value.map((v) => decodeValue(v, hooks, binary, base, depth + 1));
  const tag = value as Tag;
  switch (tag.$$) {
    case undefined:
      break;
    case "u":
      return undefined;
    case "n":
      return tag.v === "-0" ? -0 : Number(tag.v);
    case "i":
      if (typeof tag.v !== "string" || !/^-?\d+$/.test(tag.v)) throw new WireError("bad-message", "bigint without digits");
      return BigInt(tag.v);
    case "b": {
      const o = tag.o as number;
      const n = tag.n as number;
      if (!Number.isInteger(o) || !Number.isInteger(n) || o < 0 || n < 0 || base + o + n > binary.byteLength) {
        throw new WireError("bad-message", "bytes outside the binary section");
      }
      const bytes = binary.slice(base + o, base + o + n);
      let out: object;
      if (tag.t === "ArrayBuffer") out = bytes;
      else {
        const name = tag.t as string;
        const Ctor = Object.prototype.hasOwnProperty.call(BINARY_TYPES, name) ? BINARY_TYPES[name] : Uint8Array;
        const width = (Ctor as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
        if (n % width !== 0) throw new WireError("bad-message", `${n} bytes is not a whole ${name}`);
        out = new Ctor(bytes, 0, Ctor === BINARY_TYPES.DataView ? bytes.byteLength : bytes.byteLength / width);
      }
      if (tag.p) {
        const p = tag.p as Record<string, unknown>;
        for (const k of Object.keys(p)) (out as Record<string, unknown>)[k] = decodeValue(p[k], hooks, binary, base, depth + 1);
      }
      return out;
    }
    case "e": {
      const e = new Error(String(tag.message)) as Error & { code?: string };
      if (typeof tag.name === "string") e.name = tag.name;
      if (typeof tag.code === "string") e.code = tag.code;
      return e;
    }
    case "o":
      if (tag.v === null || typeof tag.v !== "object") throw new WireError("bad-message", "escaped object without a value");
      return decodePlain(tag.v as Record<string, unknown>, hooks, binary, base, depth);
    case "h":
    case "f":
      return hooks.importRef(tag);
    default:
      throw new WireError("bad-message", `unknown tag ${String(tag.$$)}`);
  }
  return decodePlain(tag, hooks, binary, base, depth);
}

function decodePlain(obj: Record<string, unknown>, hooks: RefHooks, binary: ArrayBuffer, base: number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) {
    // Own data property even for "__proto__" (JSON.parse makes it an own key).
    Object.defineProperty(out, k, { value: decodeValue(obj[k], hooks, binary, base, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Encodes `value` into one message. */
export function encodeMessage(value: unknown, hooks: RefHooks): ArrayBuffer {
  const segs = new Segments();
  const tree = encodeValue(value, hooks, segs, 0);
  const json = encoder.encode(JSON.stringify(tree));
  const head = new ArrayBuffer(4);
  new DataView(head).setUint32(0, json.byteLength, true);
  const jsonBuffer =
    json.byteOffset === 0 && json.byteLength === json.buffer.byteLength
      ? (json.buffer as ArrayBuffer)
      : (json.buffer as ArrayBuffer).slice(json.byteOffset, json.byteOffset + json.byteLength);
  return concat([head, jsonBuffer, ...segs.parts], 4 + json.byteLength + segs.length);
}

/** Decodes one message made by `encodeMessage`. */
export function decodeMessage(message: ArrayBuffer, hooks: RefHooks): unknown {
  if (message.byteLength < 4) throw new WireError("bad-message", "shorter than its header");
  const jsonLength = new DataView(message).getUint32(0, true);
  if (jsonLength > MAX_JSON_BYTES || 4 + jsonLength > message.byteLength) throw new WireError("bad-message", "JSON length beyond the message");
  const text = decoder.decode(new Uint8Array(message, 4, jsonLength));
  let tree: unknown;
  try {
    tree = JSON.parse(text);
  } catch {
    throw new WireError("bad-message", "JSON part does not parse");
  }
  return decodeValue(tree, hooks, message, 4 + jsonLength);
}

type ConcatBuffer = ArrayBuffer & { concat?: (...more: ArrayBuffer[]) => ArrayBuffer };

/** One buffer from many; XS has a native ArrayBuffer.prototype.concat, Node copies. */
function concat(parts: ArrayBuffer[], total: number): ArrayBuffer {
  const first = parts[0] as ConcatBuffer;
  if (typeof first.concat === "function") return first.concat(...parts.slice(1));
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out.buffer;
}
