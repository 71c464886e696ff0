/**
 * MQTT 3.1.1 / 5.0 codec: packet objects <-> bytes, no I/O, no state beyond
 * the bytes a streaming decoder holds.
 *
 * Encoders are in codec-encode.ts, the decoders of each packet's body in
 * codec-decode.ts; this file reads the fixed header (§2.1) and holds the
 * one-shot and streaming decoders, and exports the codec's whole API.
 * Decoding refuses anything out of rule with an MqttProtocolError whose
 * reasonCode is what a v5 session puts in its DISCONNECT (§4.13):
 * 0x81 malformed, 0x82 protocol error, 0x95 packet too large.
 *
 * `MqttDecoder` is the streaming front: `push(bytes)` only queues, `next()`
 * returns a packet, `undefined` for "need more bytes", or the error. Packets
 * may arrive in any number of pieces and several per piece. A decoded
 * PUBLISH payload is a view into the pushed bytes (a packet that spans
 * pieces is first joined into one new array of exactly its size), so callers
 * must not reuse arrays they pushed.
 */
import { MoteError } from "../errors.js";
import { MqttProtocolError, malformed } from "./errors.js";
import type { MqttPacket, ProtocolVersion } from "./packets.js";
import { MAX_VARINT, Reader } from "./wire.js";
import { EMPTY, decodeBody, decodeClientBody } from "./codec-decode.js";
import { CONNECT, PUBACK } from "./names.js";

export { clientPacketSize, encodeClientPacket, encodePacket, packetSize, publishSize } from "./codec-encode.js";
export { decodeBody, decodeClientBody } from "./codec-decode.js";

/** Default largest packet accepted by the decoder (bytes, fixed header included). */
export const DEFAULT_MAX_PACKET_SIZE = 16_384;

// ---------------------------------------------------------------- fixed header, one-shot and streaming decoders

/** One-shot decode result: a packet and the bytes it used. */
export interface Decoded {
  packet: MqttPacket;
  used: number;
}

/**
 * The fixed header at `bytes[offset, offset + avail)` (§2.1.1; Remaining Length
 * §1.5.5, at most 4 bytes, minimal): `total * 8 + header length` in one number
 * (no allocation per packet), or -1 when more bytes are needed. A packet over
 * `max` bytes is refused with 0x95 (MQTT 5 §3.1.2.11.4). Shared by
 * `decodePacket` and `MqttDecoder`.
 */
function fixedHeader(bytes: Uint8Array, offset: number, avail: number, max: number): number {
  if (avail < 2) return -1;
  let rem = 0;
  let mult = 1;
  let i = 1;
  for (; ; i++) {
    if (i > 4) throw malformed("remaining length longer than 4 bytes");
    if (i >= avail) return -1;
    const b = bytes[offset + i];
    rem += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) {
      if (i > 1 && b === 0) throw malformed("non-minimal remaining length");
      break;
    }
    mult *= 128;
  }
  const total = i + 1 + rem;
  if (total > max) throw new MqttProtocolError("packet-too-large", `a packet of ${total} bytes > the Maximum Packet Size ${max} this side accepts`);
  return total * 8 + i + 1;
}

/**
 * Decodes the first packet in `bytes[offset..]`: `{ packet, used }`, or
 * `undefined` when more bytes are needed. Throws MqttProtocolError.
 */
export function decodePacket(
  bytes: Uint8Array,
  version: ProtocolVersion,
  offset = 0,
  maxPacketSize = MAX_VARINT + 5,
): Decoded | undefined {
  return decodePacketWith(decodeBody, bytes, version, offset, maxPacketSize);
}

/** `decodePacket` with `decodeClientBody`: what a client reads back (store.ts reads stored PUBLISHes). */
export function decodeClientPacket(bytes: Uint8Array, version: ProtocolVersion, offset = 0): Decoded | undefined {
  return decodePacketWith(decodeClientBody, bytes, version, offset, MAX_VARINT + 5);
}

function decodePacketWith(
  decode: typeof decodeBody,
  bytes: Uint8Array,
  version: ProtocolVersion,
  offset: number,
  maxPacketSize: number,
): Decoded | undefined {
  const h = fixedHeader(bytes, offset, bytes.length - offset, maxPacketSize);
  if (h < 0) return undefined;
  const header = h % 8;
  const total = (h - header) / 8;
  if (bytes.length - offset < total) return undefined;
  const packet = decode(bytes[offset], bytes, offset + header, offset + total, version);
  return { packet, used: total };
}

export interface DecoderOptions {
  /** Protocol version used for packets other than CONNECT (default 5). */
  version?: ProtocolVersion;
  /** Largest whole packet accepted, bytes (default 16384); larger → 0x95. */
  maxPacketSize?: number;
}

/**
 * Streaming decoder (h11 style: `push` only queues, `next` decodes).
 * Holds at most one partial packet plus whatever whole packets were pushed
 * and not yet taken; the caller drains with `next()` after each push.
 * After an error it stays failed: every later `next()` returns that error.
 */
class PacketStream {
  version: ProtocolVersion;
  readonly maxPacketSize: number;
  /**
   * The pieces pushed and not yet decoded: #chunks[#first] up to #chunks[#end - 1].
   * The array keeps its length (it grows only past the most pieces ever held):
   * a push onto an emptied array, and the shift that emptied it, were a new
   * chunk of storage for every read on XS.
   */
  #chunks: (Uint8Array | undefined)[] = [];
  #first = 0;
  #end = 0;
  #offset = 0; // into #chunks[#first]
  /** The last piece pushed is borrowed (push(bytes, true)) and still the caller's. */
  #borrowed = false;
  #buffered = 0;
  #failed: MqttProtocolError | undefined;
  readonly #reader = new Reader(EMPTY, 0, 0);
  readonly #decode: typeof decodeBody;

  constructor(options: DecoderOptions, decode: typeof decodeBody, reuseAcks = false) {
    this.#decode = decode;
    if (reuseAcks) this.#reader.ack = { type: PUBACK, packetId: 0, reasonCode: 0 };
    this.version = options.version ?? 5;
    this.maxPacketSize = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    if (!(this.maxPacketSize >= 2)) throw new MoteError("invalid-option", "maxPacketSize");
  }

  /** Bytes queued and not yet decoded. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Queues bytes to decode. A `borrowed` array is one the caller writes again
   * after this turn (a socket's read scratch): packets decoded from it get
   * copies of their binary fields and payload, and `keep()` copies what is
   * still held of it. The session's reads are borrowed: an array per read was
   * garbage on XS for every acknowledgement.
   */
  push(bytes: Uint8Array, borrowed = false): void {
    if (this.#borrowed) this.keep();
    if (bytes.length === 0) return;
    this.#borrowed = borrowed;
    const chunks = this.#chunks;
    if (this.#end === chunks.length && this.#first > 0) {
      // full at the back, free at the front: the pieces held move to the front
      let k = 0;
      for (let i = this.#first; i < this.#end; i++) chunks[k++] = chunks[i];
      for (let i = k; i < this.#end; i++) chunks[i] = undefined;
      this.#first = 0;
      this.#end = k;
    }
    chunks[this.#end++] = bytes;
    this.#buffered += bytes.length;
  }

  /** Copies what is still held of a borrowed piece: the caller may write its array again. */
  keep(): void {
    if (!this.#borrowed) return;
    this.#borrowed = false;
    if (this.#end === this.#first) return; // all of it was decoded
    const last = this.#end - 1;
    const piece = this.#chunks[last]!;
    if (last === this.#first) {
      this.#chunks[last] = piece.slice(this.#offset);
      this.#offset = 0;
    } else this.#chunks[last] = piece.slice();
  }

  /** The first piece is decoded: let go of it. */
  #shift(): void {
    this.#chunks[this.#first++] = undefined;
    if (this.#first === this.#end) this.#first = this.#end = 0;
    this.#offset = 0;
  }

  /** Nothing buffered (a fault, a new connection). */
  #clear(): void {
    this.#borrowed = false;
    this.#chunks.length = 0;
    this.#first = this.#end = 0;
    this.#offset = 0;
    this.#buffered = 0;
  }

  /** The next packet, `undefined` when more bytes are needed, or the fault. */
  next(): MqttPacket | MqttProtocolError | undefined {
    if (this.#failed) return this.#failed;
    try {
      return this.#next();
    } catch (e) {
      if (e instanceof MqttProtocolError) {
        this.#failed = e;
        this.#clear();
        return e;
      }
      throw e;
    }
  }

  /** Forget everything buffered and any failure (a new connection). */
  reset(): void {
    this.#clear();
    this.#failed = undefined;
  }

  #byteAt(k: number): number {
    const chunks = this.#chunks;
    let ci = this.#first;
    let pos = this.#offset + k;
    while (pos >= chunks[ci]!.length) {
      pos -= chunks[ci]!.length;
      ci++;
    }
    return chunks[ci]![pos];
  }

  #next(): MqttPacket | undefined {
    // fields read once into locals: each private field read is a lookup in XS
    const buffered = this.#buffered;
    if (buffered < 2) return undefined;
    const head = this.#chunks[this.#first]!;
    const offset = this.#offset;
    // the fixed header (≤ 5 bytes) where it lies in the first piece; copied out only when it spans pieces
    const n = buffered < 5 ? buffered : 5;
    let fixed = head;
    let at = offset;
    if (fixed.length - at < n) {
      fixed = new Uint8Array(n);
      at = 0;
      for (let k = 0; k < n; k++) fixed[k] = this.#byteAt(k);
    }
    const h = fixedHeader(fixed, at, n, this.maxPacketSize);
    if (h < 0) return undefined;
    const first = fixed[at];
    const header = h % 8;
    const total = (h - header) / 8;
    if (buffered < total) return undefined;
    let bytes: Uint8Array;
    let start: number;
    let borrowed = false;
    if (head.length - offset >= total) {
      bytes = head;
      start = offset;
      borrowed = this.#borrowed && this.#first === this.#end - 1; // the head is the borrowed piece
      if (offset + total === head.length) this.#shift();
      else this.#offset = offset + total;
    } else {
      // the packet spans pieces: join it into one array of exactly its size
      bytes = new Uint8Array(total);
      start = 0;
      let filled = 0;
      while (filled < total) {
        const c = this.#chunks[this.#first]!;
        const take = Math.min(c.length - this.#offset, total - filled);
        bytes.set(c.subarray(this.#offset, this.#offset + take), filled);
        filled += take;
        this.#offset += take;
        if (this.#offset === c.length) this.#shift();
      }
    }
    this.#buffered = buffered - total;
    const r = this.#reader;
    r.copy = borrowed;
    try {
      const packet = this.#decode(first, bytes, start + header, start + total, first >> 4 === 1 ? 5 : this.version, r);
      if (packet.type === CONNECT) this.version = packet.protocolVersion;
      return packet;
    } finally {
      r.bytes = EMPTY; // hold no reference to the caller's bytes
      r.copy = false;
    }
  }
}

/** The streaming decoder for any packet (a broker, tests, tools). */
export class MqttDecoder extends PacketStream {
  constructor(options: DecoderOptions = {}) {
    super(options, decodeBody);
  }
}

/** The streaming decoder of a client session: `decodeClientBody` (no CONNECT / SUBSCRIBE / UNSUBSCRIBE decoders). */
export class ClientDecoder extends PacketStream {
  /**
   * An acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP) it returns is one object it
   * fills again at the next: read it before calling next() again (the session does;
   * an object per acknowledgement was 4 slots of garbage a QoS 1 message on XS).
   */
  constructor(options: DecoderOptions = {}) {
    super(options, decodeClientBody, true);
  }
}
