/**
 * SNTP (RFC 4330, the client side of NTPv4 RFC 5905) — the pure part: one
 * request encoded, one reply checked and turned into the time of day.
 *
 * Theory of operation. The device has no wall clock at boot, so the request
 * carries no time of day: its Transmit Timestamp is a random nonce, which the
 * server copies into the reply's Originate Timestamp (RFC 5905 §8); a reply
 * whose Originate Timestamp is not that nonce is not an answer to this request
 * (late, duplicated or forged) and is refused. The time is the server's
 * Transmit Timestamp T3 plus half the network delay, the delay measured on the
 * monotonic clock: d = (T4 - T1) - (T3 - T2) (RFC 4330 §5), T1/T4 when the
 * request left and the reply came, T2/T3 the server's receive and transmit.
 * Pure: bytes and monotonic milliseconds in, a value or a typed error out.
 */
import { MoteError, nameError } from "../errors.js";

/** RFC 4330 §4: the NTP header without extension fields or MAC. */
export const SNTP_PACKET_BYTES = 48;
/** RFC 4330 §4: the NTP port. */
export const SNTP_PORT = 123;
/** Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (RFC 868). */
const NTP_UNIX_OFFSET = 2_208_988_800;
const TWO_32 = 0x1_0000_0000;
/**
 * A reply saying the time is earlier than this (2024-01-01T00:00:00Z) is wrong:
 * this firmware was built later. It protects TLS certificate checks from a server
 * (or forger) that answers with a date years back.
 */
export const EARLIEST_UNIX_MS = 1_704_067_200_000;

const VERSION = 4;
const MODE_CLIENT = 3;
const MODE_SERVER = 4;

export type SntpErrorCode =
  | "short" //           fewer than 48 bytes
  | "mode" //            not a server reply (RFC 4330 §5: Mode 4 in unicast mode)
  | "version" //         Version Number outside 1..4
  | "unsynchronized" //  LI = 3, stratum 16, or a reserved stratum (RFC 5905 §7.3)
  | "kiss" //            stratum 0: Kiss-o'-Death, `kiss` holds the code (RFC 4330 §8)
  | "origin" //          Originate Timestamp is not the nonce sent (RFC 5905 §8, "bogus")
  | "zero-transmit" //   Transmit Timestamp is 0 (RFC 4330 §5)
  | "implausible"; //    a time before EARLIEST_UNIX_MS

export class SntpError extends MoteError<SntpErrorCode> {
  static {
    nameError(this, "SntpError");
  }
  /** The Kiss-o'-Death code (e.g. "DENY", "RSTR", "RATE") for code "kiss". */
  readonly kiss: string | undefined;
  constructor(code: SntpErrorCode, message?: string, kiss?: string) {
    super(code, message);
    this.kiss = kiss;
  }
}

/**
 * A client request (RFC 4330 §5): LI 0, VN 4, Mode 3, every field zero except
 * the Transmit Timestamp, which is `nonce` (8 random bytes).
 */
export function encodeSntpRequest(nonce: Uint8Array): Uint8Array {
  if (!(nonce instanceof Uint8Array) || nonce.length !== 8) throw new MoteError("invalid-argument", "nonce must be 8 bytes");
  const packet = new Uint8Array(SNTP_PACKET_BYTES);
  packet[0] = (0 << 6) | (VERSION << 3) | MODE_CLIENT;
  packet.set(nonce, 40);
  return packet;
}

export interface SntpReply {
  readonly stratum: number;
  /** Server receive (T2) and transmit (T3) times, Unix milliseconds. */
  readonly receiveUnixMs: number;
  readonly transmitUnixMs: number;
}

/**
 * Checks a reply against the request's nonce (RFC 4330 §5 sanity checks,
 * RFC 5905 §8 origin check) and reads T2 and T3. Throws `SntpError`.
 */
export function decodeSntpReply(data: Uint8Array, nonce: Uint8Array): SntpReply {
  if (data.length < SNTP_PACKET_BYTES) throw new SntpError("short", `${data.length} bytes`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const li = data[0] >> 6;
  const version = (data[0] >> 3) & 7;
  const mode = data[0] & 7;
  const stratum = data[1];
  if (mode !== MODE_SERVER) throw new SntpError("mode", `mode ${mode}`);
  if (version < 1 || version > 4) throw new SntpError("version", `version ${version}`);
  for (let i = 0; i < 8; i++)
    if (data[24 + i] !== nonce[i]) throw new SntpError("origin", "originate timestamp is not the request's");
  if (stratum === 0) {
    // RFC 4330 §8: the Reference Identifier holds four ASCII characters.
    let kiss = "";
    for (let i = 12; i < 16; i++) if (data[i] >= 0x20 && data[i] < 0x7f) kiss += String.fromCharCode(data[i]);
    throw new SntpError("kiss", `kiss-o'-death ${kiss}`, kiss);
  }
  if (li === 3 || stratum >= 16) throw new SntpError("unsynchronized", li === 3 ? "leap indicator 3 (alarm)" : `stratum ${stratum}`);
  const t3s = view.getUint32(40);
  const t3f = view.getUint32(44);
  if (t3s === 0 && t3f === 0) throw new SntpError("zero-transmit");
  const transmitUnixMs = ntpToUnixMs(t3s, t3f);
  if (transmitUnixMs < EARLIEST_UNIX_MS) throw new SntpError("implausible", `server time ${transmitUnixMs} ms is before ${EARLIEST_UNIX_MS}`);
  const t2s = view.getUint32(32);
  const t2f = view.getUint32(36);
  // A server that leaves T2 empty: take T3 for it (no processing time known).
  const receiveUnixMs = t2s === 0 && t2f === 0 ? transmitUnixMs : ntpToUnixMs(t2s, t2f);
  return { stratum, receiveUnixMs, transmitUnixMs };
}

/**
 * NTP timestamp -> Unix milliseconds. RFC 4330 §3: a seconds value with its
 * top bit clear is in era 1 (from 2036-02-07T06:28:16Z), set: era 0 (1968-2036).
 */
export function ntpToUnixMs(seconds: number, fraction: number): number {
  const s = seconds >= 0x8000_0000 ? seconds : seconds + TWO_32;
  return (s - NTP_UNIX_OFFSET) * 1000 + Math.round((fraction * 1000) / TWO_32); // nearest ms: a truncation lost 1 ms in the round trip (fuzz target sntp)
}

/** Unix milliseconds -> NTP seconds and fraction (the inverse, for peers and tests). */
export function unixMsToNtp(unixMs: number): { seconds: number; fraction: number } {
  const total = Math.floor(unixMs / 1000) + NTP_UNIX_OFFSET;
  const ms = unixMs - Math.floor(unixMs / 1000) * 1000;
  return { seconds: total % TWO_32, fraction: Math.floor((ms * TWO_32) / 1000) % TWO_32 };
}

/**
 * The time of day at `receivedAt` (monotonic ms, T4), for a reply to a
 * request sent at `sentAt` (T1): T3 plus half the delay (RFC 4330 §5).
 */
export function timeAtReceipt(reply: SntpReply, sentAt: number, receivedAt: number): { unixMs: number; delayMs: number } {
  const delayMs = Math.max(0, receivedAt - sentAt - Math.max(0, reply.transmitUnixMs - reply.receiveUnixMs));
  return { unixMs: Math.round(reply.transmitUnixMs + delayMs / 2), delayMs };
}

/** "host", "host:port", "[v6]:port" -> host and port (default 123). Throws MoteError("invalid-argument"). */
export function parseSntpServer(server: string): { host: string; port: number } {
  if (typeof server !== "string" || server.length === 0 || server.length > 260)
    throw new MoteError("invalid-argument", "SNTP server must be a host name or address");
  let host = server;
  let port = SNTP_PORT;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (bracket !== null) {
    host = bracket[1];
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else {
    const colon = server.lastIndexOf(":");
    if (colon >= 0 && server.indexOf(":") === colon) {
      host = server.slice(0, colon);
      const text = server.slice(colon + 1);
      if (!/^\d{1,5}$/.test(text)) throw new MoteError("invalid-argument", `bad port in ${server}`);
      port = Number(text);
    }
  }
  if (host.length === 0 || !(port >= 1 && port <= 65535)) throw new MoteError("invalid-argument", `bad SNTP server ${server}`);
  return { host, port };
}
