/**
 * CLI tasks `udpListen` and `udpSend` (`mote udp listen|send`), written
 * against src/net and TaskIO only so they run unchanged in Node and in XS.
 *
 * udpListen { port, address?, count? }: prints each datagram's bytes on
 *   stdout followed by a newline; with `count`, exits 0 after that many.
 *   Prints "listening on PORT" on stderr.
 * udpSend { host, port, message }: sends one datagram and exits 0 once it
 *   went out; exit 1 with one line naming the error code otherwise.
 */
import { UdpSocket, type NetError } from "../../src/net/index.js";
import { errorLine, type TaskArgs, type TaskIO } from "./types.js";

// The largest datagram the desktop CLI takes or prints (IPv4 UDP maximum).
const CLI_MAX_DATAGRAM = 65507;
const NEWLINE = new Uint8Array([10]);

function integer(v: TaskArgs[string]): number | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && v !== "" ? Number(v) : undefined;
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}

export function udpListen(args: TaskArgs, io: TaskIO): void {
  const count = integer(args.count);
  let seen = 0;
  let socket: UdpSocket;
  try {
    const address = typeof args.address === "string" ? args.address : undefined;
    socket = new UdpSocket({
      port: integer(args.port) ?? -1,
      ...(address === undefined ? {} : { address }),
      maxDatagramBytes: CLI_MAX_DATAGRAM,
      onMessage(data) {
        io.out(data);
        io.out(NEWLINE);
        seen++;
        if (count !== undefined && seen >= count) {
          socket.close();
          io.exit(0);
        }
      },
      onError(error: NetError) {
        io.err(errorLine(error));
      },
    });
  } catch (e) {
    io.err(errorLine(e, (e as { code?: unknown })?.code === "address-in-use" ? `udp port ${integer(args.port)} is already in use` : undefined));
    return io.exit(1);
  }
  io.err(`listening on ${socket.port}`);
}

export function udpSend(args: TaskArgs, io: TaskIO): void {
  let socket: UdpSocket | undefined;
  try {
    const message = args.message instanceof Uint8Array ? args.message : String(args.message ?? "");
    socket = new UdpSocket({ maxDatagramBytes: CLI_MAX_DATAGRAM });
    const s = socket;
    s.send(message, typeof args.host === "string" ? args.host : "", integer(args.port) ?? 0, (error) => {
      s.close();
      if (error !== undefined) io.err(errorLine(error));
      io.exit(error === undefined ? 0 : 1);
    });
  } catch (e) {
    socket?.close();
    io.err(errorLine(e));
    io.exit(1);
  }
}
