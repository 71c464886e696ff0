/**
 * A small SNTP server (RFC 4330 §5, server side) on 127.0.0.1 and a free port,
 * the peer for mote's SNTP client in tests: it answers each request with
 * Mode 4, copies the request's Transmit Timestamp into Originate (RFC 5905 §8)
 * and stamps Receive/Transmit with its own clock (`Date.now() + offsetMs`).
 * `behaviour` makes it misbehave the ways real servers and networks do.
 */
import { createSocket, type Socket } from "node:dgram";

export type SntpBehaviour =
  | "ok"
  | "silent" //           never answers
  | "bogus-then-ok" //    first a reply with a wrong Originate Timestamp, then the real one
  | "unsynchronized" //   LI = 3, stratum 16
  | { kiss: string }; //  stratum 0 with this kiss code (RFC 4330 §8)

export interface SntpRequestSeen {
  readonly version: number;
  readonly mode: number;
  readonly transmit: Uint8Array;
  readonly bytes: number;
  /** Where the request came from (the client's socket). */
  readonly from: { readonly address: string; readonly port: number };
}

export interface SntpPeer {
  readonly port: number;
  readonly server: string;
  readonly requests: SntpRequestSeen[];
  behaviour: SntpBehaviour;
  /** What the peer's clock is ahead of this process's Date.now(), ms. */
  offsetMs: number;
  close(): Promise<void>;
}

const NTP_UNIX_OFFSET = 2_208_988_800;

function writeTimestamp(out: Buffer, at: number, unixMs: number): void {
  const seconds = Math.floor(unixMs / 1000) + NTP_UNIX_OFFSET;
  const fraction = Math.floor(((unixMs % 1000) / 1000) * 0x1_0000_0000);
  out.writeUInt32BE(seconds % 0x1_0000_0000, at);
  out.writeUInt32BE(fraction >>> 0, at + 4);
}

export async function startSntpPeer(behaviour: SntpBehaviour = "ok"): Promise<SntpPeer> {
  const socket: Socket = createSocket("udp4");
  const peer = {
    port: 0,
    server: "",
    requests: [] as SntpRequestSeen[],
    behaviour,
    offsetMs: 0,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  socket.on("message", (msg, from) => {
    if (msg.length < 48) return;
    const receivedAt = Date.now() + peer.offsetMs;
    peer.requests.push({ version: (msg[0] >> 3) & 7, mode: msg[0] & 7, transmit: new Uint8Array(msg.subarray(40, 48)), bytes: msg.length, from: { address: from.address, port: from.port } });
    const b = peer.behaviour;
    if (b === "silent") return;
    const reply = (mutate?: (r: Buffer) => void) => {
      const r = Buffer.alloc(48);
      r[0] = (0 << 6) | (4 << 3) | 4; // LI 0, VN 4, Mode 4 (server)
      r[1] = 2; // stratum 2
      r[2] = msg[2];
      r[3] = 0xec; // precision 2^-20
      r.write("LOCL", 12, "ascii");
      writeTimestamp(r, 16, receivedAt - 60_000);
      msg.copy(r, 24, 40, 48); // Originate = the client's Transmit
      writeTimestamp(r, 32, receivedAt);
      writeTimestamp(r, 40, Date.now() + peer.offsetMs);
      mutate?.(r);
      socket.send(r, from.port, from.address);
    };
    if (b === "ok") reply();
    else if (b === "bogus-then-ok") {
      reply((r) => (r[31] ^= 0xff));
      reply();
    } else if (b === "unsynchronized")
      reply((r) => {
        r[0] = (3 << 6) | (4 << 3) | 4;
        r[1] = 16;
      });
    else
      reply((r) => {
        r[1] = 0;
        r.fill(0, 12, 16);
        r.write(b.kiss.slice(0, 4), 12, "ascii");
      });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => resolve());
  });
  peer.port = socket.address().port;
  peer.server = `127.0.0.1:${peer.port}`;
  return peer;
}
