/**
 * A minimal misbehaving MQTT broker for the CLI's failure paths: a node:net
 * server on a loopback address that reads whole packets (MQTT 3.1.1 §2.2 fixed
 * header, remaining length varint) and answers as `mode` says:
 *   "close"               accepts, then closes at once (before CONNACK)
 *   "close-after-connack" CONNACK accepted, then closes when the next packet
 *                         (the PUBLISH) arrives, before PUBACK / PUBREC
 *   "v311-only"           a 3.1.1-only broker: CONNACK return code 1 to a v5
 *                         CONNECT, then close (3.1.1 §3.1.2.2); level 4 is
 *                         accepted and any PUBLISH acknowledged
 *   "suback-refuse"       CONNACK accepted, every SUBSCRIBE answered 0x80
 *   "suback-downgrade"    CONNACK accepted, SUBSCRIBE granted at most QoS 1
 *                         (RabbitMQ 3.10: no QoS 2), then one PUBLISH "m"
 *                         QoS 0 on the first filter
 *   "no-ack"              CONNACK accepted, PINGREQ answered, PUBLISH never
 *                         acknowledged
 * Bounded: a connection holds at most 64 KiB of unparsed bytes.
 */
import { createServer, type Server, type Socket } from "node:net";

export type FakeBrokerMode = "close" | "close-after-connack" | "v311-only" | "suback-refuse" | "suback-downgrade" | "no-ack" | "slow-ack";

/** How long "slow-ack" holds each PUBACK / PUBREC. */
export const SLOW_ACK_MS = 100;

export interface FakeBroker {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

const MAX_BUFFERED = 65_536;

export async function startFakeBroker(mode: FakeBrokerMode, host = "127.0.0.1"): Promise<FakeBroker> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    if (mode === "close") {
      socket.destroy();
      return;
    }
    let buffered = Buffer.alloc(0);
    let version = 4;
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > MAX_BUFFERED) return void socket.destroy();
      for (;;) {
        const p = nextPacket(buffered);
        if (p === undefined) return;
        buffered = buffered.subarray(p.used);
        const type = p.first >> 4;
        if (type === 1) {
          // CONNECT: protocol name (2 + 4 bytes "MQTT"), then the level (§3.1.2.2)
          version = p.body[6];
          if (mode === "v311-only" && version !== 4) {
            socket.end(Buffer.of(0x20, 0x02, 0x00, 0x01));
            return;
          }
          socket.write(version === 5 ? Buffer.of(0x20, 0x03, 0x00, 0x00, 0x00) : Buffer.of(0x20, 0x02, 0x00, 0x00));
        } else if (type === 3) {
          if (mode === "close-after-connack") return void socket.destroy();
          if (mode === "no-ack") continue;
          const qos = (p.first >> 1) & 3;
          const topicLength = p.body.readUInt16BE(0);
          const id = p.body.subarray(2 + topicLength, 4 + topicLength);
          const ack = qos === 1 ? Buffer.concat([Buffer.of(0x40, 0x02), id]) : qos === 2 ? Buffer.concat([Buffer.of(0x50, 0x02), id]) : undefined;
          if (ack !== undefined && mode === "slow-ack") setTimeout(() => socket.destroyed || socket.write(ack), SLOW_ACK_MS);
          else if (ack !== undefined) socket.write(ack);
        } else if (type === 6) {
          socket.write(Buffer.concat([Buffer.of(0x70, 0x02), p.body.subarray(0, 2)])); // PUBREL -> PUBCOMP
        } else if (type === 8) {
          // SUBSCRIBE: packet id, [v5 properties], then (filter, options) pairs
          const id = p.body.subarray(0, 2);
          let at = 2;
          if (version === 5) at += 1 + p.body[2];
          const filters: { filter: string; qos: number }[] = [];
          while (at < p.body.length) {
            const n = p.body.readUInt16BE(at);
            filters.push({ filter: p.body.subarray(at + 2, at + 2 + n).toString("utf8"), qos: p.body[at + 2 + n] & 3 });
            at += 3 + n;
          }
          const codes = filters.map((f) => (mode === "suback-refuse" ? 0x80 : Math.min(f.qos, 1)));
          const props = version === 5 ? [0] : [];
          socket.write(Buffer.of(0x90, 2 + props.length + codes.length, ...id, ...props, ...codes));
          if (mode === "suback-downgrade") {
            const topic = Buffer.from(filters[0].filter);
            const payload = Buffer.from("m");
            const vprops = version === 5 ? [0] : [];
            socket.write(Buffer.of(0x30, 2 + topic.length + vprops.length + payload.length, topic.length >> 8, topic.length & 0xff, ...topic, ...vprops, ...payload));
          }
        } else if (type === 12) {
          socket.write(Buffer.of(0xd0, 0x00)); // PINGRESP
        } else if (type === 14) {
          socket.end();
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    host,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The first whole packet in `b`: its first byte, its body, the bytes it used; undefined when incomplete. */
function nextPacket(b: Buffer): { first: number; body: Buffer; used: number } | undefined {
  if (b.length < 2) return undefined;
  let length = 0;
  let multiplier = 1;
  let i = 1;
  for (; i <= 4; i++) {
    if (i >= b.length) return undefined;
    length += (b[i] & 0x7f) * multiplier;
    multiplier *= 128;
    if ((b[i] & 0x80) === 0) break;
  }
  const start = i + 1;
  if (b.length < start + length) return undefined;
  return { first: b[0], body: b.subarray(start, start + length), used: start + length };
}
