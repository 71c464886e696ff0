/**
 * CLI tasks `tcpListen` and `tcpConnect` (`mote tcp listen|connect`), written
 * against src/net and TaskIO only so they run unchanged in Node and in XS.
 *
 * tcpConnect { host, port, timeoutMs?, lingerMs? }: stdin -> socket,
 *   socket -> stdout; exit 0 when the peer closes, or when stdin ended,
 *   everything was sent and the peer did not close within `lingerMs`
 *   (default 1000: time for its answer, like `nc -q 1`; ECMA-419 sockets
 *   cannot half-close); exit 1 with one line naming the error code otherwise.
 * tcpListen { port, address?, echo? }: serves many clients at once; with
 *   `echo` each client gets its bytes back, otherwise they go to stdout.
 *   Prints "listening on PORT" on stderr; runs until stopped.
 */
import { TcpClient, TcpServer, type TcpStream } from "../../src/net/index.js";
import { errorLine, type TaskArgs, type TaskIO } from "./types.js";

// TaskIO gives no way to pause stdin, so the CLI allows a deeper send queue
// than device code would; beyond it the task fails with "overflow".
const CLI_HIGH_WATER_MARK = 64 * 1024;
const CLI_MAX_QUEUE_BYTES = 16 * 1024 * 1024;
/** After stdin ends and all is sent: how long to wait for the peer's answer and close. */
const DEFAULT_LINGER_MS = 1000;

function text(v: TaskArgs[string]): string | undefined {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
}

function integer(v: TaskArgs[string]): number | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && v !== "" ? Number(v) : undefined;
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}

export function tcpConnect(args: TaskArgs, io: TaskIO): void {
  let finished = false;
  const finish = (code: number, error?: unknown) => {
    if (finished) return;
    finished = true;
    if (error !== undefined) io.err(errorLine(error));
    io.exit(code);
  };
  let client: TcpClient;
  const linger = integer(args.lingerMs) ?? DEFAULT_LINGER_MS;
  try {
    const timeout = integer(args.timeoutMs);
    client = new TcpClient({
      host: text(args.host) ?? "",
      port: integer(args.port) ?? 0,
      ...(timeout === undefined ? {} : { connectTimeoutMs: timeout }),
      highWaterMark: CLI_HIGH_WATER_MARK,
      maxQueueBytes: CLI_MAX_QUEUE_BYTES,
      onData: (data) => io.out(data),
      onClose: (error) => finish(error === undefined ? 0 : 1, error),
    });
  } catch (e) {
    return finish(1, e);
  }
  io.onInput((data) => {
    if (finished) return;
    try {
      if (data === null) client.end(linger);
      else client.write(data.slice()); // the chunk may be reused by the reader
    } catch (e) {
      client.destroy();
      finish(1, e);
    }
  });
}

export function tcpListen(args: TaskArgs, io: TaskIO): void {
  const echo = args.echo === true;
  let server: TcpServer;
  try {
    const address = text(args.address);
    server = new TcpServer({
      port: integer(args.port) ?? -1,
      ...(address === undefined ? {} : { address }),
      maxConnections: 64,
      onConnection(connection: TcpStream) {
        connection.onData = (data) => {
          if (!echo) return io.out(data);
          try {
            if (!connection.write(data)) connection.pause(); // let the client feel our backpressure
          } catch (e) {
            io.err(errorLine(e));
            connection.destroy();
          }
        };
        connection.onDrain = () => connection.resume();
        connection.onClose = (error) => {
          if (error !== undefined && error.code !== "reset") io.err(errorLine(error));
        };
      },
    });
  } catch (e) {
    io.err(errorLine(e, (e as { code?: unknown })?.code === "address-in-use" ? `tcp port ${integer(args.port)} is already in use` : undefined));
    return io.exit(1);
  }
  io.err(`listening on ${server.port}`);
}
