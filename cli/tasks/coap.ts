/**
 * CLI tasks for `mote coap ...` (cli/tasks/types.ts contract): the same code
 * runs in Node or inside XS. Flags follow libcoap's coap-client; the CLI
 * frame maps them to these args:
 *   url, method (-m), payload (-e text or -f file bytes), contentFormat (-t),
 *   accept (-A), blockSize (-b), non (-N), token (-T), timeout (-B seconds),
 *   duration (-s seconds, observe), port / address (serve).
 * Output: response payload bytes on stdout; one line naming the error code
 * on stderr and exit status 1 on failure (non-2.xx responses included).
 */
import { createClient, createServer, formatLinkFormat, type CoapResponse, type RequestOptions } from "../../src/coap/index.js";
import { CoapRequestError } from "../../src/coap/client.js";
import { MoteError } from "../../src/errors.js";
import { encodeUtf8 } from "../../src/util/utf8.js";
import { clearTimer, setRepeating, setTimer } from "../../src/platform/timer.js";
import { errorLine, type Task, type TaskArgs, type TaskIO } from "./types.js";

const FORMATS: Readonly<Record<string, number>> = Object.freeze({
  "text/plain": 0,
  text: 0,
  "application/link-format": 40,
  link: 40,
  "application/xml": 41,
  xml: 41,
  "application/octet-stream": 42,
  octet: 42,
  binary: 42,
  "application/exi": 47,
  "application/json": 50,
  json: 50,
  "application/cbor": 60,
  cbor: 60,
});

function contentFormat(v: TaskArgs[string]): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "number") return v;
  if (typeof v !== "string") throw new MoteError("invalid-argument", "content format");
  if (/^\d+$/.test(v)) return Number(v);
  const n = FORMATS[v.toLowerCase()];
  if (n === undefined) throw new MoteError("invalid-argument", `unknown content format ${v}`);
  return n;
}

function str(v: TaskArgs[string], name: string): string {
  if (typeof v !== "string") throw new MoteError("invalid-argument", `${name} is required`);
  return v;
}

function num(v: TaskArgs[string]): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isFinite(n)) throw new MoteError("invalid-argument", `not a number: ${String(v)}`);
  return n;
}

function requestOptions(args: TaskArgs): RequestOptions {
  const method = typeof args.method === "string" ? args.method : "GET";
  const m = method === "ipatch" || method === "iPATCH" ? "iPATCH" : method.toUpperCase();
  if (!["GET", "POST", "PUT", "DELETE", "FETCH", "PATCH", "iPATCH"].includes(m)) throw new MoteError("invalid-argument", `method ${method}`);
  const payload = args.payload instanceof Uint8Array ? args.payload : typeof args.payload === "string" ? encodeUtf8(args.payload) : undefined;
  const timeout = num(args.timeout);
  return {
    method: m as RequestOptions["method"],
    payload,
    contentFormat: contentFormat(args.contentFormat),
    accept: contentFormat(args.accept),
    blockSize: num(args.blockSize),
    confirmable: args.non === true ? false : undefined,
    token: typeof args.token === "string" ? encodeUtf8(args.token) : undefined,
    timeoutMs: timeout === undefined ? 90_000 : timeout * 1000, // libcoap -B default: 90 s
  };
}

/** Reason phrases of response codes (RFC 7252 §12.1.2, RFC 7959 §2.9, RFC 8132 §3.4, RFC 8516 §3). */
const REASONS: Readonly<Record<string, string>> = Object.freeze({
  "2.01": "Created",
  "2.02": "Deleted",
  "2.03": "Valid",
  "2.04": "Changed",
  "2.05": "Content",
  "2.31": "Continue",
  "4.00": "Bad Request",
  "4.01": "Unauthorized",
  "4.02": "Bad Option",
  "4.03": "Forbidden",
  "4.04": "Not Found",
  "4.05": "Method Not Allowed",
  "4.06": "Not Acceptable",
  "4.08": "Request Entity Incomplete",
  "4.09": "Conflict",
  "4.12": "Precondition Failed",
  "4.13": "Request Entity Too Large",
  "4.15": "Unsupported Content-Format",
  "4.22": "Unprocessable Entity",
  "4.29": "Too Many Requests",
  "5.00": "Internal Server Error",
  "5.01": "Not Implemented",
  "5.02": "Bad Gateway",
  "5.03": "Service Unavailable",
  "5.04": "Gateway Timeout",
  "5.05": "Proxying Not Supported",
});

/** Words for the client's failure codes, with the URL it was asking. */
function explain(e: unknown, url: string | undefined, timeoutS: number | undefined): string | undefined {
  const code = (e as { code?: unknown })?.code;
  const at = url === undefined ? "the server" : url;
  switch (code) {
    case "timeout":
      return timeoutS === undefined ? `no response from ${at}` : `no response from ${at} within ${timeoutS} s`;
    case "reset":
      return `${at} answered with a reset (RST): it does not take this request`;
    case "block-mismatch":
      return `${at} broke the block-wise transfer (block sequence or ETag changed)`;
    case "too-large":
      return `the response from ${at} is larger than the client accepts`;
    case "queue-full":
      return "too many requests in progress";
    default:
      return undefined;
  }
}

function fail(io: TaskIO, e: unknown, args?: TaskArgs): void {
  const url = typeof args?.url === "string" ? args.url : undefined;
  const timeout = args === undefined ? undefined : num(args.timeout);
  io.err(errorLine(e, explain(e, url, timeout)));
  io.exit(1);
}

/** `mote: 4.04: Not Found`, with the server's diagnostic payload when it sent text (RFC 7252 §5.5.2). */
function responseError(r: CoapResponse): string {
  const reason = REASONS[r.codeText] ?? (r.code >> 5 === 4 ? "Client Error" : r.code >> 5 === 5 ? "Server Error" : "Unexpected response");
  const text = r.payload.length > 0 && r.payload.length <= 256 && (r.contentFormat === undefined || r.contentFormat === 0) ? r.text().split("\n")[0] : "";
  return `mote: ${r.codeText}: ${reason}${text === "" || text.toLowerCase() === reason.toLowerCase() ? "" : ` (${text})`}`;
}

function finish(io: TaskIO, r: CoapResponse, printPayload = true): void {
  if (printPayload && r.payload.length > 0) io.out(r.payload);
  if (r.ok) io.exit(0);
  else {
    io.err(responseError(r));
    io.exit(1);
  }
}

/** `mote coap get|post|put|delete URL` */
export const coapRequest: Task = (args, io) => {
  let client: ReturnType<typeof createClient> | undefined;
  try {
    const url = str(args.url, "url");
    const opts = requestOptions(args);
    client = createClient();
    const c = client;
    const isGet = (opts.method ?? "GET") === "GET";
    const p = isGet ? c.download(url, (data) => io.out(data), opts) : c.request(url, opts);
    p.then(
      (r) => {
        c.close();
        finish(io, r, !isGet);
      },
      (e) => {
        c.close();
        fail(io, e, args);
      },
    );
  } catch (e) {
    client?.close();
    fail(io, e, args);
  }
};

/** `mote coap observe URL -s SECONDS` */
export const coapObserve: Task = (args, io) => {
  try {
    const url = str(args.url, "url");
    const duration = num(args.duration) ?? 30;
    const client = createClient();
    let done = false;
    const end = (code: number) => {
      if (done) return;
      done = true;
      client.close();
      io.exit(code);
    };
    const h = client.observe(
      url,
      (n) => {
        io.out(n.payload);
        io.out(encodeUtf8("\n"));
      },
      requestOptions({ ...args, timeout: undefined }),
    );
    const timer = setTimer(() => {
      h.cancel().then(
        () => end(0),
        () => end(0),
      );
    }, duration * 1000);
    h.ended.then(
      (r) => {
        clearTimer(timer);
        if (r !== undefined && !r.ok) io.err(responseError(r));
        end(r === undefined || r.ok ? 0 : 1);
      },
      (e) => {
        clearTimer(timer);
        if (!done) {
          done = true;
          client.close();
          fail(io, e, args);
        }
      },
    );
  } catch (e) {
    fail(io, e, args);
  }
};

/** `mote coap discover URL` — one link per line. */
export const coapDiscover: Task = (args, io) => {
  try {
    const url = str(args.url, "url");
    const client = createClient();
    client.discover(url, requestOptions({ ...args, method: "GET" })).then(
      (links) => {
        client.close();
        for (const l of links) io.out(encodeUtf8(formatLinkFormat([l]) + "\n"));
        io.exit(0);
      },
      (e) => {
        client.close();
        fail(io, e, args);
      },
    );
  } catch (e) {
    fail(io, e, args);
  }
};

/**
 * `mote coap serve [-p PORT]` — demo resources: /hello (GET), /time (observable,
 * notified every second), /echo (POST/PUT echo), /counter (GET, POST increments),
 * /big (GET, 64 KiB generated: Block2). A daemon: it runs until it is stopped
 * (a signal) or for `duration` seconds; standard input is not read, so a
 * closed stdin (`</dev/null`, a service manager) does not end it. A port that
 * cannot be bound is a failure (exit 1), never a server without a socket.
 */
export const coapServe: Task = (args, io) => {
  const port = num(args.port) ?? 5683;
  let server: ReturnType<typeof createServer>;
  try {
    server = createServer({ port, address: typeof args.address === "string" ? args.address : undefined });
  } catch (e) {
    const code = (e as { code?: unknown })?.code;
    const words = code === "address-in-use" || code === "bind-failed" ? `cannot listen on udp port ${port}: it is in use (or not allowed)` : undefined;
    io.err(errorLine(e, words));
    return io.exit(1);
  }
  // A runtime whose UDP socket does not report its port (Moddable's lin UDP) binds
  // port 0 only at the first send: such a server could never be reached.
  if (server.port === 0) {
    server.close();
    io.err("mote: unavailable: this runtime cannot tell which udp port it would listen on: give -p PORT");
    return io.exit(1);
  }
  try {
    let counter = 0;
    let seconds = 0;
    const bigSize = 65536;
    server
      .add({ path: "/hello", rt: ["greeting"], ct: [0], handlers: { GET: () => ({ payload: "Hello from mote", contentFormat: 0 }) } })
      .add({ path: "/time", rt: ["ticks"], ct: [0], observable: true, handlers: { GET: () => ({ payload: String(seconds), contentFormat: 0, maxAge: 2 }) } })
      .add({
        path: "/echo",
        handlers: {
          POST: (r) => ({ code: 2 << 5 | 4, payload: r.payload, contentFormat: r.contentFormat }),
          PUT: (r) => ({ code: 2 << 5 | 4, payload: r.payload, contentFormat: r.contentFormat }),
        },
      })
      .add({
        path: "/counter",
        ct: [0],
        handlers: { GET: () => ({ payload: String(counter), contentFormat: 0 }), POST: () => ({ payload: String(++counter), contentFormat: 0 }) },
      })
      .add({
        path: "/big",
        ct: [42],
        title: "64 KiB of generated bytes",
        handlers: {
          GET: () => ({
            contentFormat: 42,
            payload: { size: bigSize, read: (offset: number, length: number) => new Uint8Array(length).map((_, i) => (offset + i) & 0xff) },
          }),
        },
      });
    io.err(`coap server listening on udp port ${server.port}\n`);
    const tick = setRepeating(() => {
      seconds++;
      server.notify("/time");
    }, 1000);
    const duration = num(args.duration);
    if (duration !== undefined)
      setTimer(() => {
        clearTimer(tick);
        server.close();
        io.exit(0);
      }, duration * 1000);
  } catch (e) {
    server.close();
    fail(io, e);
  }
};
