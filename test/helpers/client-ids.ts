/**
 * A listener that records the client id of each MQTT CONNECT it receives
 * (3.1.1 §3.1.3.1, 5.0 §3.1.3.1), answers CONNACK "accepted" in the client's
 * version, and takes whatever follows. For tests of what clients choose as
 * their id (not a broker: nothing is routed).
 */
import { createServer, type Server, type Socket } from "node:net";

export interface ClientIdRecorder {
  readonly port: number;
  readonly ids: string[];
  close(): Promise<void>;
}

/** The client id of a whole CONNECT packet at the start of `b`, or undefined while incomplete. */
export function clientIdOf(b: Buffer): string | undefined {
  if (b.length < 2 || b[0] >> 4 !== 1) return undefined;
  let length = 0;
  let i = 1;
  for (let shift = 0; i < b.length && i <= 4; i++, shift += 7) {
    length |= (b[i] & 0x7f) << shift;
    if ((b[i] & 0x80) === 0) break;
  }
  const start = i + 1;
  if (b.length < start + length) return undefined;
  let o = start + 2 + b.readUInt16BE(start); // protocol name
  const level = b[o];
  o += 1 + 1 + 2; // level, flags, keep alive
  if (level === 5) {
    let props = 0;
    let n = 0;
    for (let shift = 0; n < 4; n++, shift += 7) {
      props |= (b[o + n] & 0x7f) << shift;
      if ((b[o + n] & 0x80) === 0) break;
    }
    o += n + 1 + props;
  }
  const idLength = b.readUInt16BE(o);
  return b.subarray(o + 2, o + 2 + idLength).toString("utf8");
}

export async function recordClientIds(): Promise<ClientIdRecorder> {
  const ids: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => undefined);
    s.on("close", () => sockets.delete(s));
    let held = Buffer.alloc(0);
    let answered = false;
    s.on("data", (d: Buffer) => {
      if (answered) return; // PUBLISH (QoS 0) and DISCONNECT: taken, not read
      held = Buffer.concat([held, d]);
      const id = clientIdOf(held);
      if (id === undefined) return;
      answered = true;
      ids.push(id);
      const v5 = held.includes(Buffer.from("MQTT")) && held[held.indexOf(Buffer.from("MQTT")) + 4] === 5;
      s.write(v5 ? Buffer.from([0x20, 0x03, 0x00, 0x00, 0x00]) : Buffer.from([0x20, 0x02, 0x00, 0x00]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    ids,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
