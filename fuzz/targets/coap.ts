/**
 * CoAP datagrams into the message codec (src/coap/codec.ts, RFC 7252 §3).
 *
 * Inputs: random datagrams; valid messages built from the §5.10 option table
 * (every registered option, in range and out of range, repeated, unknown
 * critical and elective numbers, 13/14 extended deltas and lengths, Block
 * values, payloads); mutations of those; option-field edits that push delta
 * and length nibbles to 13/14/15 and extensions to their maxima.
 *
 * Properties:
 * - `decodeMessage` returns a message or throws CoapFormatError with one of
 *   its codes; `peekHeader` never throws;
 * - a decoded message has token ≤ 8 bytes, options sorted by number and
 *   within `maxOptions`, and no more bytes than the datagram;
 * - it re-encodes (`encodeMessage`) and decodes back to an equal message
 *   (RFC 7252 §3.1: option order and repeats kept);
 * - typed option views (decodeBlock, decodeUint, optionStrings, uriPath) do
 *   not throw on any decoded option.
 */
import {
  CoapFormatError,
  Option,
  decodeBlock,
  decodeMessage,
  decodeUint,
  encodeBlock,
  encodeMessage,
  encodeUint,
  optionStrings,
  peekHeader,
  uriPath,
  type CoapMessage,
  type CoapOption,
  type CoapType,
} from "../../src/coap/codec.js";
import { encodeUtf8 } from "../../src/util/utf8.js";
import { FuzzFailure, assert, deepEqual, hex, showValue, type FuzzTarget, type Rng } from "../engine.js";
import { mutateBytes, randomBytes } from "../mutators.js";

export interface CoapInput {
  bytes: Uint8Array;
  maxOptions: number;
}

const CODES: readonly CoapFormatError["code"][] = Object.freeze([
  "too-short", "bad-version", "bad-token-length", "reserved-class", "bad-empty-message", "bad-option-nibble",
  "truncated-option", "empty-payload", "too-many-options", "unknown-critical-option", "bad-critical-option",
  "bad-option-value", "too-large", "bad-link-format",
]);

const OPTION_NUMBERS = Object.freeze(Object.values(Option));
const EXTRA_NUMBERS = Object.freeze([2, 9, 10, 13, 16, 21, 25, 29, 64, 268, 269, 270, 284, 1000, 2048, 65000, 65535]);
const TYPES: readonly CoapType[] = Object.freeze(["CON", "NON", "ACK", "RST"]);

function optionValue(rng: Rng, number: number): Uint8Array {
  switch (number) {
    case Option.Block1:
    case Option.Block2:
      return rng.bool(0.8) ? encodeBlock({ num: rng.int(0x100000), more: rng.bool(), szx: rng.int(7) }) : rng.bytes(rng.size(4));
    case Option.Observe:
    case Option.UriPort:
    case Option.ContentFormat:
    case Option.MaxAge:
    case Option.Accept:
    case Option.Size1:
    case Option.Size2:
    case Option.NoResponse:
      return rng.bool(0.8) ? encodeUint(rng.bool() ? rng.int(300) : rng.u32()) : rng.bytes(rng.size(6));
    case Option.UriPath:
    case Option.UriQuery:
    case Option.UriHost:
    case Option.LocationPath:
    case Option.LocationQuery:
    case Option.ProxyScheme:
      return rng.bool(0.8) ? encodeUtf8(rng.pick(["a", "sensor", "temp", "é€", "rt=x", "", "..", "%2F"]).repeat(1 + rng.size(3))) : rng.bytes(rng.size(300));
    case Option.ProxyUri:
      return rng.bytes(rng.bool() ? rng.size(20) : rng.range(1000, 1100));
    default:
      return rng.bytes(rng.size(rng.bool(0.1) ? 400 : 12));
  }
}

function randomMessage(rng: Rng): CoapMessage {
  const empty = rng.bool(0.08);
  const cls = rng.pick([0, 0, 2, 4, 5]);
  const code = empty ? 0 : cls === 0 ? rng.range(1, 7) : (cls << 5) | rng.int(32);
  const options: CoapOption[] = [];
  if (!empty) {
    const n = rng.size(10);
    for (let k = 0; k < n; k++) {
      const number = rng.bool(0.85) ? rng.pick(OPTION_NUMBERS) : rng.pick(EXTRA_NUMBERS);
      options.push({ number, value: optionValue(rng, number) });
    }
    options.sort((a, b) => a.number - b.number);
  }
  return {
    type: rng.pick(TYPES),
    code,
    messageId: rng.int(0x10000),
    token: empty ? new Uint8Array(0) : rng.bytes(rng.int(9)),
    options,
    payload: empty || rng.bool(0.4) ? new Uint8Array(0) : rng.bytes(1 + rng.size(600)),
  };
}

/** Rewrites the first option header byte after the token: nibbles 13/14/15 with extensions at their limits. */
function pushOptionField(rng: Rng, bytes: Uint8Array): Uint8Array {
  if (bytes.length < 5) return bytes;
  const at = 4 + (bytes[0] & 15);
  if (at >= bytes.length) return bytes;
  const nib = () => rng.pick([12, 13, 14, 15]);
  const d = nib();
  const l = nib();
  const ext: number[] = [];
  if (d === 13) ext.push(rng.pick([0, 0xff]));
  if (d === 14) ext.push(rng.pick([0, 0xff]), rng.pick([0, 0xff]));
  if (l === 13) ext.push(rng.pick([0, 0xff]));
  if (l === 14) ext.push(rng.pick([0, 0xff]), rng.pick([0, 0xfe, 0xff]));
  return Uint8Array.from([...bytes.subarray(0, at), (d << 4) | l, ...ext, ...bytes.subarray(at + 1)]);
}

export function generateCoap(rng: Rng): CoapInput {
  const maxOptions = rng.bool(0.9) ? 64 : rng.pick([0, 1, 4]);
  const mode = rng.int(8);
  let bytes: Uint8Array;
  if (mode === 0) bytes = randomBytes(rng, 64);
  else if (mode === 1) bytes = Uint8Array.from([0x40 | rng.int(64), rng.int(256), rng.int(256), rng.int(256), ...randomBytes(rng, 64)]);
  else {
    let base: Uint8Array;
    try {
      base = encodeMessage(randomMessage(rng));
    } catch {
      base = randomBytes(rng, 32); // an option value longer than a 14-nibble extension allows
    }
    if (mode <= 3) bytes = base;
    else if (mode === 4) bytes = pushOptionField(rng, base);
    else bytes = mutateBytes(rng, base, 4);
  }
  return { bytes, maxOptions };
}

function checkMessage(m: CoapMessage, input: CoapInput): void {
  assert(m.token.length <= 8, "token longer than 8 bytes");
  assert(m.options.length <= input.maxOptions, `${m.options.length} options > maxOptions ${input.maxOptions}`);
  let total = 4 + m.token.length + m.payload.length;
  for (let k = 0; k < m.options.length; k++) {
    const o = m.options[k];
    total += o.value.length;
    assert(k === 0 || m.options[k - 1].number <= o.number, "options not sorted by number");
    if (o.number === Option.Block1 || o.number === Option.Block2) decodeBlock(o.value);
    decodeUint(o.value);
  }
  assert(total <= input.bytes.length, "decoded message larger than its datagram");
  optionStrings(m, Option.UriPath);
  optionStrings(m, Option.LocationPath);
  uriPath(m);
}

export const coapTarget: FuzzTarget<CoapInput> = {
  name: "coap",
  description: "CoAP datagrams (random, option-table-aware, pushed 13/14/15 nibbles, mutated): message or CoapFormatError; re-encode round trip",
  generate: generateCoap,
  show: (input) => showValue({ maxOptions: input.maxOptions, bytes: hex(input.bytes) }),
  check(input) {
    peekHeader(input.bytes);
    let m: CoapMessage;
    try {
      m = decodeMessage(input.bytes, { maxOptions: input.maxOptions });
    } catch (e) {
      if (e instanceof CoapFormatError && CODES.includes(e.code)) return `error:${e.code}`;
      throw e;
    }
    checkMessage(m, input);
    let again: Uint8Array;
    try {
      again = encodeMessage(m);
    } catch (e) {
      throw new FuzzFailure(`decoded message does not re-encode: ${String(e)}`);
    }
    let back: CoapMessage;
    try {
      back = decodeMessage(again, { maxOptions: input.maxOptions });
    } catch (e) {
      throw new FuzzFailure(`re-encoded message does not decode: ${String(e)} — ${hex(again)}`);
    }
    assert(deepEqual(back, m), `re-encoded message decodes differently: ${showValue(back)} vs ${showValue(m)}`);
    return `ok:${m.type}${m.code === 0 ? ":empty" : ""}`;
  },
};
