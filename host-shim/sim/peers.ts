/**
 * Default peers of the simulator, embedded so `npm start` needs nothing installed:
 * an MQTT broker (aedes), a CoAP server (node-coap) with an observable `/sensor`
 * and a block-wise `/large`, and an HTTP server for update images.
 * Every server listens on 127.0.0.1 only, on a free port unless one is given.
 */
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Aedes } from "aedes";
import * as coap from "coap";

export interface BrokerPeer {
  readonly url: string;
  readonly port: number;
  readonly aedes: Aedes;
  /** Clients connected now. */
  readonly clients: number;
  /**
   * Restart: every connection is cut and the port refuses connections for
   * `downMs`; the broker's state (sessions, retained, QoS 1 queues) survives,
   * as with mosquitto's `persistence true`.
   */
  restart(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startBroker(options: { port?: number } = {}): Promise<BrokerPeer> {
  const aedes = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  let server: TcpServer | undefined;
  let port = options.port ?? 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createTcpServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => socket.destroy());
        aedes.handle(socket);
      });
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });

  const closeServer = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      for (const sock of sockets) sock.destroy();
      sockets.clear();
      if (s === undefined) resolve();
      else s.close(() => resolve());
    });

  await listen();
  return {
    get url() {
      return `mqtt://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    aedes,
    get clients() {
      return aedes.connectedClients;
    },
    async restart(downMs = 1000) {
      await closeServer();
      await new Promise((r) => setTimeout(r, downMs));
      // The port was ours a moment ago; retry briefly if the OS still holds it.
      for (let i = 0; ; i++) {
        try {
          await listen();
          return;
        } catch (e) {
          if (i >= 20) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async close() {
      await closeServer();
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}

export interface CoapPeer {
  readonly url: string;
  readonly port: number;
  /** Current value of /sensor (changes every `sensorPeriodMs`, notified to observers). */
  readonly sensor: number;
  /** Bytes served at /large (block-wise, RFC 7959 Block2). */
  readonly large: Uint8Array;
  readonly observers: number;
  close(): Promise<void>;
}

/** A deterministic payload of `size` bytes: readable text, every 64th byte a newline. */
export function largeResource(size: number): Uint8Array {
  const out = new Uint8Array(size);
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (let i = 0; i < size; i++) out[i] = i % 64 === 63 ? 10 : alphabet.charCodeAt(i % alphabet.length);
  return out;
}

export async function startCoapServer(
  options: { port?: number; sensorPeriodMs?: number; largeBytes?: number } = {},
): Promise<CoapPeer> {
  const large = largeResource(options.largeBytes ?? 8192);
  let sensor = 21.0;
  let tick = 0;
  const streams = new Set<{ write(data: string): void; on(ev: string, f: () => void): void }>();
  const server = coap.createServer({ type: "udp4" });
  server.on("request", (req: coap.IncomingMessage, res: coap.OutgoingMessage) => {
    const path = req.url.split("?")[0];
    if (path === "/sensor") {
      res.setOption("Content-Format", "text/plain");
      if (req.headers.Observe === 0) {
        const stream = res as unknown as { write(data: string): void; on(ev: string, f: () => void): void };
        streams.add(stream);
        stream.on("finish", () => streams.delete(stream));
        stream.on("error", () => streams.delete(stream));
        stream.write(sensor.toFixed(2));
        return;
      }
      res.end(sensor.toFixed(2));
      return;
    }
    if (path === "/large") {
      res.setOption("Content-Format", "text/plain");
      res.end(Buffer.from(large));
      return;
    }
    res.code = "4.04";
    res.end();
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      const addr = (server as unknown as { _sock: { address(): AddressInfo } })._sock.address();
      resolve(addr.port);
    });
  });
  const timer = setInterval(() => {
    tick++;
    sensor = Math.round((21 + 2 * Math.sin(tick / 5)) * 100) / 100;
    for (const s of streams) {
      try {
        s.write(sensor.toFixed(2));
      } catch {
        streams.delete(s);
      }
    }
  }, options.sensorPeriodMs ?? 1000);
  timer.unref();
  return {
    url: `coap://127.0.0.1:${port}`,
    port,
    get sensor() {
      return sensor;
    },
    large,
    get observers() {
      return streams.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        streams.clear();
        server.close(() => resolve());
      }),
  };
}

export interface UpdatePeer {
  readonly url: string;
  readonly port: number;
  /** Serve `body` at `path` (e.g. "/firmware/1.2.0.bin"). Bounded: at most 16 files. */
  put(path: string, body: Uint8Array): void;
  close(): Promise<void>;
}

export async function startUpdateServer(options: { port?: number } = {}): Promise<UpdatePeer> {
  const files = new Map<string, Uint8Array>();
  const server: HttpServer = createHttpServer((req, res) => {
    const body = files.get((req.url ?? "/").split("?")[0]);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405).end();
      return;
    }
    if (body === undefined) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    // Range support (RFC 9110 §14.2) lets an interrupted update resume.
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (range !== null) {
      const start = Number(range[1]);
      const end = range[2] === "" ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
      if (start > end) {
        res.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        "content-type": "application/octet-stream",
        "content-length": end - start + 1,
        "content-range": `bytes ${start}-${end}/${body.length}`,
      });
      res.end(req.method === "HEAD" ? undefined : Buffer.from(body.subarray(start, end + 1)));
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length, "accept-ranges": "bytes" });
    res.end(req.method === "HEAD" ? undefined : Buffer.from(body));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    put(path, body) {
      if (!files.has(path) && files.size >= 16) throw new Error("update server: at most 16 files");
      files.set(path, body);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
