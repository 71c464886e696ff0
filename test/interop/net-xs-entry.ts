/**
 * XS side of test/interop/net-xs.test.ts: src/net (TcpClient, TcpServer,
 * UdpSocket) running inside the XS engine, host sockets served by the Node
 * twins through the bridge.
 */
import { TcpClient, TcpServer, UdpSocket, type NetError, type TcpStream } from "../../src/net/index.js";
import { setTimer } from "../../src/platform/timer.js";

const g = globalThis as unknown as Record<string, unknown>;
const CHUNK = new Uint8Array(16 * 1024);
for (let i = 0; i < CHUNK.length; i++) CHUNK[i] = (i * 7) & 0xff;

/** Sends `total` bytes (CHUNK repeated) with backpressure; reports the deepest queue seen. */
g.sendMany = (args: { port: number; total: number }) =>
  new Promise((resolve) => {
    let sent = 0;
    let maxQueued = 0;
    let drains = 0;
    const client: TcpClient = new TcpClient({
      host: "127.0.0.1",
      port: args.port,
      highWaterMark: 32 * 1024,
      maxQueueBytes: 64 * 1024,
      onDrain() {
        drains++;
        pump();
      },
      onClose(error?: NetError) {
        resolve({ sent, maxQueued, drains, error: error?.code ?? null });
      },
    });
    function pump(): void {
      while (sent < args.total) {
        sent += CHUNK.length;
        const more = client.write(CHUNK);
        if (client.queuedBytes > maxQueued) maxQueued = client.queuedBytes;
        if (!more) return;
      }
      client.end();
    }
    pump();
  });

/** Receives until the peer closes, pausing 5 ms after every 512 KB; checks the byte pattern p & 0xff. */
g.receiveMany = (args: { port: number }) =>
  new Promise((resolve) => {
    let received = 0;
    let mismatches = 0;
    let maxChunk = 0;
    const client: TcpClient = new TcpClient({
      host: "127.0.0.1",
      port: args.port,
      onData(data: Uint8Array) {
        for (let i = 0; i < data.length; i += 97) if (data[i] !== ((received + i) & 0xff)) mismatches++;
        if (data.length > maxChunk) maxChunk = data.length;
        const before = received;
        received += data.length;
        if (Math.floor(before / 524288) !== Math.floor(received / 524288)) {
          client.pause();
          setTimer(() => client.resume(), 5);
        }
      },
      onClose(error?: NetError) {
        resolve({ received, mismatches, maxChunk, error: error?.code ?? null });
      },
    });
  });

/** Connects and reports how the connection ended. */
g.connectResult = (args: { host: string; port: number; timeoutMs?: number }) =>
  new Promise((resolve) => {
    let text = "";
    new TcpClient({
      host: args.host,
      port: args.port,
      ...(args.timeoutMs === undefined ? {} : { connectTimeoutMs: args.timeoutMs }),
      onData(d: Uint8Array) {
        text += String.fromCharCode(...d);
      },
      onClose(error?: NetError) {
        resolve({ text, error: error?.code ?? null });
      },
    });
  });

/** Misuse inside XS: the codes thrown. */
g.misuse = () => {
  const codes: string[] = [];
  const attempt = (f: () => unknown) => {
    try {
      f();
      codes.push("none");
    } catch (e) {
      codes.push((e as { code?: string }).code ?? "untyped");
    }
  };
  attempt(() => new TcpClient({ host: "", port: 1 }));
  attempt(() => new TcpClient({ host: "127.0.0.1", port: 70000 }));
  attempt(() => new UdpSocket({ port: -1 }));
  attempt(() => new TcpServer({ port: 0, maxConnections: 0, onConnection() {} }));
  return codes;
};

/** An echo server inside XS; resolves with its port at once, serves until `stopServer`. */
let server: TcpServer | undefined;
g.startEchoServer = () => {
  server = new TcpServer({
    port: 0,
    address: "127.0.0.1",
    onConnection(c: TcpStream) {
      c.onData = (d) => c.write(d);
    },
  });
  return server.port;
};
g.stopServer = () => {
  const count = server?.connectionCount ?? 0;
  server?.close();
  return count;
};

/** One UDP request/response with a peer; resolves with what came back and from where. */
g.udpExchange = (args: { port: number; message: string }) =>
  new Promise((resolve) => {
    const socket: UdpSocket = new UdpSocket({
      address: "127.0.0.1",
      onMessage(data, address, port) {
        socket.close();
        resolve({ text: String.fromCharCode(...data), address, port });
      },
    });
    socket.send(args.message, "127.0.0.1", args.port);
  });
