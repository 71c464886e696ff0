/**
 * `mote ota serve DIR`: a small static HTTP/1.1 server for update images.
 *
 * GET and HEAD only; one byte range per request (RFC 9110 §14.1.2
 * "bytes=a-b", "bytes=a-", "bytes=-n") answered 206 with Content-Range
 * (§14.4); an unsatisfiable range gets 416 with "Content-Range: bytes * /size"
 * (§15.5.17); several ranges are answered with the whole file (200), which
 * §14.2 allows. Files are served from DIR only (no "..", no symlinks out).
 *
 * Fault injection (tests and demos): `ignoreRange` answers 200 with the whole
 * body to any Range request; `dropAfterBytes` closes the connection after
 * that many body bytes, for the first `dropTimes` responses.
 */
import { createReadStream, realpathSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, resolve, sep } from "node:path";

export interface OtaServerFaults {
  ignoreRange?: boolean;
  dropAfterBytes?: number;
  dropTimes?: number;
}

export interface OtaServerOptions {
  dir: string;
  port?: number;
  host?: string;
  faults?: OtaServerFaults;
  log?: (line: string) => void;
}

export interface OtaServer {
  readonly port: number;
  readonly url: string;
  /** Requests seen, for tests: method, path, Range header, status. */
  readonly requests: Array<{ method: string; path: string; range?: string; status: number }>;
  close(): Promise<void>;
}

type ByteRange = { start: number; end: number } | "unsatisfiable" | undefined;

/** RFC 9110 §14.1.2: one "bytes" range, or undefined to serve the whole representation. */
export function parseRange(header: string | undefined, size: number): ByteRange {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null) return undefined; // unknown unit or several ranges: ignore the header
  const [, first, last] = m;
  if (first === "" && last === "") return undefined;
  if (first === "") {
    const n = Number(last);
    if (n === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== "" && Number(last) < start) return undefined; // invalid: ignore
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

const TYPES: Record<string, string> = {
  ".json": "application/json",
  ".bin": "application/octet-stream",
  ".xsa": "application/octet-stream",
  ".js": "text/javascript",
};

export async function startOtaServer(options: OtaServerOptions): Promise<OtaServer> {
  const root = realpathSync(resolve(options.dir));
  const faults = options.faults ?? {};
  let dropsLeft = faults.dropAfterBytes !== undefined ? (faults.dropTimes ?? 1) : 0;
  const requests: OtaServer["requests"] = [];

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? "GET";
    let path = "/";
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      path = "\0";
    }
    const record = { method, path, range: req.headers.range, status: 0 };
    requests.push(record);
    const finish = (status: number, headers: Record<string, string | number> = {}, body?: string) => {
      record.status = status;
      res.writeHead(status, { "Content-Length": body === undefined ? 0 : Buffer.byteLength(body), ...headers });
      res.end(method === "HEAD" ? undefined : body);
    };
    if (method !== "GET" && method !== "HEAD") return finish(405, { Allow: "GET, HEAD" });
    let file: string;
    try {
      file = realpathSync(join(root, path));
    } catch {
      return finish(404);
    }
    if (file !== root && !file.startsWith(root + sep)) return finish(404);
    const st = statSync(file);
    if (!st.isFile()) return finish(404);
    const size = st.size;
    const range = faults.ignoreRange ? undefined : parseRange(req.headers.range, size);
    const type = TYPES[extname(file)] ?? "application/octet-stream";
    if (range === "unsatisfiable") return finish(416, { "Content-Range": `bytes */${size}` });
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    const status = range === undefined ? 200 : 206;
    record.status = status;
    res.writeHead(status, {
      "Content-Type": type,
      "Content-Length": end - start + 1,
      "Accept-Ranges": "bytes",
      ...(status === 206 ? { "Content-Range": `bytes ${start}-${end}/${size}` } : {}),
    });
    if (method === "HEAD" || size === 0) return void res.end();
    const drop = dropsLeft > 0 ? faults.dropAfterBytes! : undefined;
    if (drop !== undefined) dropsLeft--;
    const stream = createReadStream(file, { start, end: drop !== undefined ? Math.min(end, start + drop - 1) : end });
    if (drop !== undefined && start + drop - 1 < end) {
      // Send the first bytes, then cut the TCP connection without finishing the body.
      stream.on("data", (chunk) => res.write(chunk));
      stream.on("end", () => setImmediate(() => req.socket.destroy()));
    } else stream.pipe(res);
    stream.on("error", () => req.socket.destroy());
  }

  const server = createServer(handle);
  server.keepAliveTimeout = 1000;
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? "127.0.0.1";
  return {
    port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
