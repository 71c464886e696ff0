/**
 * PUBLISH 64 B encode+decode inside Moddable's own XS (mcconfig -p lin), run by
 * bench/codec-moddable.ts: mote's codec (encodePacket + ClientDecoder, as the
 * client session uses them) against `peer*` below, a minimal hand-written
 * codec for one shape (QoS 1, ASCII topic), in the same machine, rounds
 * interleaved. Prints one line per round: "codec-round <name> <packets/s>".
 */
import { ClientDecoder, decodeClientBody, decodeClientPacket, encodeClientPacket } from "../src/mqtt/codec.js";
import { Reader } from "../src/mqtt/wire.js";
import type { PublishPacket } from "../src/mqtt/packets.js";

declare const trace: (s: string) => void;

const TOPIC = "sensors/dev1/tmp"; // 16 bytes
const SIZE = 64;
const ROUND_MS = 400;
const ROUNDS = 15;

// ---- the peer: a minimal PUBLISH (QoS 1) codec, Uint8Array only
function peerEncode(topic: string, id: number, payload: Uint8Array, out: Uint8Array): number {
  const rem = 2 + topic.length + 2 + payload.length;
  let o = 0;
  out[o++] = 0x32;
  let n = rem;
  do {
    out[o++] = (n & 0x7f) | (n > 0x7f ? 0x80 : 0);
    n >>>= 7;
  } while (n > 0);
  out[o++] = topic.length >> 8;
  out[o++] = topic.length & 0xff;
  for (let i = 0; i < topic.length; i++) out[o++] = topic.charCodeAt(i);
  out[o++] = id >> 8;
  out[o++] = id & 0xff;
  out.set(payload, o);
  return o + payload.length;
}
function peerDecode(b: Uint8Array, end: number): { topic: string; id: number; payload: Uint8Array } {
  let i = 1;
  let rem = 0;
  let mult = 1;
  for (;;) {
    const c = b[i++];
    rem += (c & 0x7f) * mult;
    if (!(c & 0x80)) break;
    mult *= 128;
  }
  if (i + rem > end) throw new Error("truncated");
  const tl = (b[i] << 8) | b[i + 1];
  const topic = String.fromCharCode.apply(null, b.subarray(i + 2, i + 2 + tl) as unknown as number[]);
  i += 2 + tl;
  const id = (b[i] << 8) | b[i + 1];
  return { topic, id, payload: b.subarray(i + 2, end) };
}
// ---- end of the peer

const payload = new Uint8Array(SIZE).fill(0x61);
let sink = 0;

function mote(): () => void {
  const packet: PublishPacket = { type: "publish", topic: TOPIC, payload, qos: 1, retain: false, dup: false, packetId: 1 };
  const decoder = new ClientDecoder({ version: 4, maxPacketSize: 1 << 20 });
  return () => {
    // a fresh array per packet, as the session hands each one to the socket
    decoder.push(encodeClientPacket(packet, 4));
    sink += (decoder.next() as PublishPacket).payload.length;
  };
}

function peer(): () => void {
  return () => {
    const out = new Uint8Array(2 + 4 + 2 + TOPIC.length + 2 + SIZE);
    const n = peerEncode(TOPIC, 1, payload, out);
    sink += peerDecode(out, n).payload.length;
  };
}

function rate(fn: () => void): number {
  let n = 0;
  const t0 = Date.now();
  let t = t0;
  while (t - t0 < ROUND_MS) {
    for (let i = 0; i < 500; i++) fn();
    n += 500;
    t = Date.now();
  }
  return (n * 1000) / (t - t0);
}

/** CODEC_PROFILE=1 in the bench's environment: encode and decode measured apart too. */
declare const PROFILE: boolean;
const runners: [string, () => void][] = [
  ["mote", mote()],
  ["peer", peer()],
];
if (PROFILE) {
  const packet: PublishPacket = { type: "publish", topic: TOPIC, payload, qos: 1, retain: false, dup: false, packetId: 1 };
  const bytes = encodeClientPacket(packet, 4);
  const decoder = new ClientDecoder({ version: 4, maxPacketSize: 1 << 20 });
  const out = new Uint8Array(bytes.length);
  runners.push(["mote-enc", () => void encodeClientPacket(packet, 4)]);
  runners.push(["mote-dec", () => { decoder.push(bytes); sink += (decoder.next() as PublishPacket).payload.length; }]);
  runners.push(["mote-dec1", () => void (sink += (decodeClientPacket(bytes, 4)!.packet as PublishPacket).payload.length)]);
  const r = new Reader(bytes, 0, bytes.length);
  runners.push(["mote-body", () => void (sink += (decodeClientBody(0x32, bytes, 2, bytes.length, 4, r) as PublishPacket).payload.length)]);
  runners.push(["peer-enc", () => void peerEncode(TOPIC, 1, payload, new Uint8Array(out.length))]);
  runners.push(["peer-dec", () => void (sink += peerDecode(bytes, bytes.length).payload.length)]);
}
for (const [, fn] of runners) for (let i = 0; i < 2000; i++) fn(); // warm up
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of r % 2 ? runners.slice().reverse() : runners) trace(`codec-round ${name} ${Math.round(rate(fn))}\n`);
}
trace(`codec-done ${sink > 0 ? "ok" : "empty"}\n`);
