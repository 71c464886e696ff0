/**
 * SNTP codec (src/net/sntp.ts) byte by byte, and one exchange
 * (src/net/sntp-query.ts) over real UDP sockets against a local SNTP peer.
 */
import { createSocket } from "node:dgram";
import { afterEach, describe, expect, test } from "vitest";
import {
  EARLIEST_UNIX_MS,
  decodeSntpReply,
  encodeSntpRequest,
  ntpToUnixMs,
  parseSntpServer,
  timeAtReceipt,
  unixMsToNtp,
  type SntpErrorCode,
} from "../../src/net/sntp.js";
import { querySntp, type SntpResult } from "../../src/net/sntp-query.js";
import { startSntpPeer, type SntpPeer } from "../helpers/sntp-peer.js";

const NONCE = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
const NOW = Date.UTC(2026, 11, 4, 12, 0, 0, 250);

/** A server reply to NONCE, stamped `unixMs`, then changed by `mutate`. */
function reply(unixMs = NOW, mutate?: (b: Uint8Array, v: DataView) => void): Uint8Array {
  const b = new Uint8Array(48);
  const v = new DataView(b.buffer);
  b[0] = (0 << 6) | (4 << 3) | 4;
  b[1] = 2;
  b.set(NONCE, 24);
  const t = unixMsToNtp(unixMs);
  v.setUint32(32, t.seconds);
  v.setUint32(36, t.fraction);
  v.setUint32(40, t.seconds);
  v.setUint32(44, t.fraction);
  mutate?.(b, v);
  return b;
}

function codeOf(f: () => unknown): SntpErrorCode | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: SntpErrorCode }).code;
  }
  return undefined;
}

describe("SNTP codec", () => {
  test("a request is 48 bytes: LI 0, version 4, mode 3, the nonce as Transmit Timestamp, all else zero", () => {
    const r = encodeSntpRequest(NONCE);
    expect(r.length).toBe(48);
    expect(r[0]).toBe(0b00_100_011);
    expect([...r.subarray(40)]).toEqual([...NONCE]);
    expect(r.subarray(1, 40).every((x) => x === 0)).toBe(true);
    expect(codeOf(() => encodeSntpRequest(new Uint8Array(7)))).toBe("invalid-argument");
  });

  test("a good reply gives the server's receive and transmit times", () => {
    const r = decodeSntpReply(reply(), NONCE);
    expect(r).toEqual({ stratum: 2, receiveUnixMs: NOW, transmitUnixMs: NOW });
  });

  test("NTP era 1 (seconds with the top bit clear, after 2036-02-07) reads forward, not back to 1900", () => {
    expect(ntpToUnixMs(0, 0)).toBe(Date.UTC(2036, 1, 7, 6, 28, 16));
    const later = Date.UTC(2040, 0, 1);
    const t = unixMsToNtp(later);
    expect(t.seconds).toBeLessThan(0x8000_0000);
    expect(ntpToUnixMs(t.seconds, t.fraction)).toBe(later);
    expect(ntpToUnixMs(0xe000_0000, 0x8000_0000)).toBe((0xe000_0000 - 2_208_988_800) * 1000 + 500);
  });

  test("each refusal has its code", () => {
    expect(codeOf(() => decodeSntpReply(reply().subarray(0, 47), NONCE))).toBe("short");
    expect(codeOf(() => decodeSntpReply(reply(NOW, (b) => (b[0] = (4 << 3) | 3)), NONCE))).toBe("mode");
    expect(codeOf(() => decodeSntpReply(reply(NOW, (b) => (b[0] = (0 << 3) | 4)), NONCE))).toBe("version");
    expect(codeOf(() => decodeSntpReply(reply(NOW, (b) => (b[31] ^= 1)), NONCE))).toBe("origin");
    expect(codeOf(() => decodeSntpReply(reply(NOW, (b) => (b[0] = (3 << 6) | (4 << 3) | 4)), NONCE))).toBe("unsynchronized");
    expect(codeOf(() => decodeSntpReply(reply(NOW, (b) => (b[1] = 16)), NONCE))).toBe("unsynchronized");
    expect(codeOf(() => decodeSntpReply(reply(NOW, (b) => b.fill(0, 40, 48)), NONCE))).toBe("zero-transmit");
    expect(codeOf(() => decodeSntpReply(reply(EARLIEST_UNIX_MS - 1000), NONCE))).toBe("implausible");
  });

  test("stratum 0 is a Kiss-o'-Death: the code carries the four ASCII characters (RFC 4330 §8)", () => {
    let error: unknown;
    try {
      decodeSntpReply(
        reply(NOW, (b) => {
          b[1] = 0;
          b.set([0x52, 0x41, 0x54, 0x45], 12); // "RATE"
        }),
        NONCE,
      );
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: "SntpError", code: "kiss", kiss: "RATE" });
  });

  test("the time at receipt is T3 plus half the network delay; the server's own hold time is not delay", () => {
    const r = { stratum: 1, receiveUnixMs: NOW, transmitUnixMs: NOW + 10 };
    expect(timeAtReceipt(r, 1000, 1110)).toEqual({ unixMs: NOW + 10 + 50, delayMs: 100 });
    expect(timeAtReceipt(r, 1000, 1005)).toEqual({ unixMs: NOW + 10, delayMs: 0 }); // clocks disagree: no negative delay
  });

  test("server names: host, host:port, [v6]:port; anything else is invalid-argument", () => {
    expect(parseSntpServer("pool.ntp.org")).toEqual({ host: "pool.ntp.org", port: 123 });
    expect(parseSntpServer("127.0.0.1:1123")).toEqual({ host: "127.0.0.1", port: 1123 });
    expect(parseSntpServer("[::1]:1123")).toEqual({ host: "::1", port: 1123 });
    expect(parseSntpServer("::1")).toEqual({ host: "::1", port: 123 });
    for (const bad of ["", "host:", "host:99999", "host:x", ":123"]) expect(codeOf(() => parseSntpServer(bad)), bad).toBe("invalid-argument");
  });
});

describe("one SNTP exchange over UDP with a local SNTP peer", () => {
  let peer: SntpPeer | undefined;
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
  });

  const ask = (server: string, timeoutMs?: number) =>
    new Promise<SntpResult>((resolve) => querySntp(server, resolve, timeoutMs === undefined ? {} : { timeoutMs }));

  test("the peer's clock comes back, and the request was a version 4 client request with a random transmit field", async () => {
    peer = await startSntpPeer("ok");
    peer.offsetMs = 3_600_000; // the peer is an hour ahead: the answer must be its time, not ours
    const before = Date.now();
    const r = await ask(peer.server);
    const after = Date.now();
    expect(r).toMatchObject({ stratum: 2, address: "127.0.0.1" });
    if (!("unixMs" in r)) throw new Error(r.error);
    // The peer stamped its reply between `before` and `after`; half the measured delay is added.
    expect(r.unixMs).toBeGreaterThanOrEqual(before + 3_600_000 - 1);
    expect(r.unixMs).toBeLessThanOrEqual(after + 3_600_000 + (after - before) + 1);
    expect(peer.requests).toHaveLength(1);
    expect(peer.requests[0]).toMatchObject({ version: 4, mode: 3, bytes: 48 });
    expect(peer.requests[0].transmit.some((x) => x !== 0)).toBe(true);
    const second = await ask(peer.server);
    expect("unixMs" in second).toBe(true);
    expect(peer.requests[1].transmit).not.toEqual(peer.requests[0].transmit);
  });

  test("a reply to another request (wrong Originate Timestamp) is dropped and the real one taken", async () => {
    peer = await startSntpPeer("bogus-then-ok");
    const r = await ask(peer.server);
    expect("unixMs" in r).toBe(true);
  });

  test("a Kiss-o'-Death DENY ends the exchange with kiss:DENY", async () => {
    peer = await startSntpPeer({ kiss: "DENY" });
    expect(await ask(peer.server)).toEqual({ error: "kiss:DENY" });
  });

  test("an unsynchronized server is refused", async () => {
    peer = await startSntpPeer("unsynchronized");
    expect(await ask(peer.server)).toEqual({ error: "unsynchronized" });
  });

  test("a server that never answers ends in timeout", async () => {
    peer = await startSntpPeer("silent");
    expect(await ask(peer.server, 200)).toEqual({ error: "timeout" });
    expect(peer.requests).toHaveLength(1);
  });

  test("a reply from another port, even one that carries the right nonce, is not taken for the server's", async () => {
    peer = await startSntpPeer("silent");
    const forger = createSocket("udp4");
    await new Promise<void>((resolve) => forger.bind(0, "127.0.0.1", () => resolve()));
    try {
      const result = ask(peer.server, 500);
      for (let i = 0; i < 100 && peer.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      const request = peer.requests[0];
      const forged = Buffer.from(reply(Date.now()));
      forged.set(request.transmit, 24); // the right Originate Timestamp, from the wrong place
      forger.send(forged, request.from.port, "127.0.0.1");
      expect(await result).toEqual({ error: "timeout" });
    } finally {
      forger.close();
    }
  });

  test("a bad server name fails with invalid-server", async () => {
    expect(await ask("host:99999")).toEqual({ error: "invalid-server" });
  });

  test("cancel() silences the callback", async () => {
    peer = await startSntpPeer("ok");
    const results: SntpResult[] = [];
    const q = querySntp(peer.server, (r) => results.push(r));
    q.cancel();
    const r = await ask(peer.server); // a second exchange completes: the first had its chance
    expect("unixMs" in r).toBe(true);
    expect(results).toEqual([]);
  });
});
