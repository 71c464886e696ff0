/**
 * SNTP replies (RFC 4330 §4/§5) into `decodeSntpReply` and `timeAtReceipt`
 * (src/net/sntp.ts), the decoder every datagram from a time server goes through,
 * and server names into `parseSntpServer`.
 *
 * Inputs: replies built to answer a nonce (any LI, version 1..7, mode, stratum
 * 0..255 with kiss codes, times in both NTP eras, empty receive timestamps),
 * mutated as bytes, truncated or extended; random datagrams; server names built
 * from host/port parts and mutated as text.
 *
 * Properties: a reply or an SntpError with one of its codes, never another
 * exception; an accepted reply has stratum 1..15, mode 4, the nonce as
 * Originate and times no earlier than EARLIEST_UNIX_MS; an unmutated reply
 * that passes decodes to the time it was built with (to the millisecond);
 * `timeAtReceipt` gives a delay >= 0 and a time >= T3; a server name gives a
 * host and a port 1..65535 or MoteError("invalid-argument").
 */
import { EARLIEST_UNIX_MS, SntpError, decodeSntpReply, parseSntpServer, timeAtReceipt, unixMsToNtp, type SntpErrorCode } from "../../src/net/sntp.js";
import { MoteError } from "../../src/errors.js";
import { assert, showValue, type FuzzTarget, type Rng } from "../engine.js";
import { mutateBytes, mutateText, randomBytes } from "../mutators.js";

export interface SntpInput {
  bytes: Uint8Array;
  nonce: Uint8Array;
  /** The transmit time it was built with, when unmutated. */
  builtMs?: number;
  sentAt: number;
  receivedAt: number;
  server: string;
}

const CODES: readonly SntpErrorCode[] = Object.freeze(["short", "mode", "version", "unsynchronized", "kiss", "origin", "zero-transmit", "implausible"]);
const HOSTS = Object.freeze(["pool.ntp.org", "127.0.0.1", "::1", "[::1]", "time", "", "a:b:c", "10.0.0.2"]);
const DICT = Object.freeze([":", "[", "]", "123", "0", "65535", "65536", "99999", "-1", " ", ".", "x"]);

function reply(rng: Rng, nonce: Uint8Array): { bytes: Uint8Array; builtMs: number } {
  const b = new Uint8Array(48);
  const v = new DataView(b.buffer);
  const li = rng.bool(0.8) ? 0 : rng.int(4);
  const version = rng.bool(0.8) ? 4 : rng.int(8);
  const mode = rng.bool(0.85) ? 4 : rng.int(8);
  b[0] = (li << 6) | (version << 3) | mode;
  b[1] = rng.bool(0.8) ? 1 + rng.int(15) : rng.int(256);
  if (b[1] === 0) b.set(rng.pick([[0x44, 0x45, 0x4e, 0x59], [0x52, 0x41, 0x54, 0x45], [0, 0, 0, 0], [0xff, 0x41, 0x0a, 0x7f]]), 12);
  if (rng.bool(0.9)) b.set(nonce, 24);
  else b.set(rng.bytes(8), 24);
  // 2019..2106 (both NTP eras), sometimes before the plausible floor
  const builtMs = rng.bool(0.9) ? EARLIEST_UNIX_MS + rng.int(0x7fff_ffff) * 1000 + rng.int(1000) : rng.int(0x7fff_ffff) * 1000;
  const t3 = unixMsToNtp(builtMs);
  v.setUint32(40, t3.seconds);
  v.setUint32(44, t3.fraction);
  if (rng.bool(0.8)) {
    const t2 = unixMsToNtp(builtMs - rng.int(50));
    v.setUint32(32, t2.seconds);
    v.setUint32(36, t2.fraction);
  }
  if (rng.bool(0.05)) b.fill(0, 40, 48);
  return { bytes: b, builtMs };
}

export function generateSntp(rng: Rng): SntpInput {
  const nonce = rng.bytes(8);
  const sentAt = rng.int(1_000_000);
  const receivedAt = sentAt + (rng.bool(0.9) ? rng.int(5000) : 0);
  const server = rng.bool(0.6)
    ? `${rng.pick(HOSTS)}${rng.bool() ? `:${rng.pick([123, 1, 65535, 0, 65536, 99999])}` : ""}`
    : mutateText(rng, rng.pick(HOSTS), DICT, 3);
  const mode = rng.int(10);
  if (mode === 0) return { bytes: randomBytes(rng, 100), nonce, sentAt, receivedAt, server };
  const built = reply(rng, nonce);
  if (mode <= 5) return { bytes: built.bytes, nonce, builtMs: built.builtMs, sentAt, receivedAt, server };
  if (mode <= 7) return { bytes: mutateBytes(rng, built.bytes, 3), nonce, sentAt, receivedAt, server };
  const extra = rng.bool() ? built.bytes.subarray(0, rng.int(48)) : new Uint8Array([...built.bytes, ...rng.bytes(rng.size(40))]);
  return { bytes: extra, nonce, builtMs: extra.length >= 48 ? built.builtMs : undefined, sentAt, receivedAt, server };
}

export const sntpTarget: FuzzTarget<SntpInput> = {
  name: "sntp",
  description: "SNTP replies (built for a nonce, mutated, truncated, random) into decodeSntpReply/timeAtReceipt, server names into parseSntpServer: a time or an SntpError",
  generate: generateSntp,
  show: (input) => showValue(input),
  check(input) {
    try {
      const p = parseSntpServer(input.server);
      assert(p.host.length > 0 && Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535, `server ${input.server} gave ${showValue(p)}`);
    } catch (e) {
      if (!(e instanceof MoteError) || e.code !== "invalid-argument") throw e;
    }
    let r;
    try {
      r = decodeSntpReply(input.bytes, input.nonce);
    } catch (e) {
      if (e instanceof SntpError && CODES.includes(e.code)) return `error:${e.code}`;
      throw e;
    }
    assert(r.stratum >= 1 && r.stratum <= 15, `accepted stratum ${r.stratum}`);
    assert((input.bytes[0] & 7) === 4, "accepted a reply that is not mode 4");
    for (let i = 0; i < 8; i++) assert(input.bytes[24 + i] === input.nonce[i], "accepted a reply whose Originate is not the nonce");
    assert(Number.isFinite(r.transmitUnixMs) && r.transmitUnixMs >= EARLIEST_UNIX_MS, `accepted time ${r.transmitUnixMs}`);
    assert(Number.isFinite(r.receiveUnixMs), `receive time ${r.receiveUnixMs}`);
    if (input.builtMs !== undefined) assert(r.transmitUnixMs === input.builtMs, `built ${input.builtMs}, decoded ${r.transmitUnixMs}`);
    const t = timeAtReceipt(r, input.sentAt, input.receivedAt);
    assert(t.delayMs >= 0 && t.unixMs >= r.transmitUnixMs, `timeAtReceipt ${showValue(t)}`);
    return "ok:reply";
  },
};
