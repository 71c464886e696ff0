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
import type { Task, TaskArgs, TaskIO } from "./types.js";

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

function fail(io: TaskIO, e: unknown): void {
  if (e instanceof CoapRequestError || e instanceof MoteError) io.err(`error: ${e.message.startsWith(e.code) ? e.message : `${e.code}: ${e.message}`}`);
  else io.err(`error: ${String(e)}`);
  io.exit(1);
}

function finish(io: TaskIO, r: CoapResponse, printPayload = true): void {
  if (printPayload && r.payload.length > 0) io.out(r.payload);
  if (r.ok) io.exit(0);
  else {
    io.err(`error: ${r.codeText}`);
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
        fail(io, e);
      },
    );
  } catch (e) {
    client?.close();
    fail(io, e);
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
        if (r !== undefined && !r.ok) io.err(`error: ${r.codeText}`);
        end(r === undefined || r.ok ? 0 : 1);
      },
      (e) => {
        clearTimer(timer);
        if (!done) {
          done = true;
          client.close();
          fail(io, e);
        }
      },
    );
  } catch (e) {
    fail(io, e);
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
        fail(io, e);
      },
    );
  } catch (e) {
    fail(io, e);
  }
};

/**
 * `mote coap serve [-p PORT]` — demo resources: /hello (GET), /time (observable,
 * notified every second), /echo (POST/PUT echo), /counter (GET, POST increments),
 * /big (GET, 64 KiB generated: Block2). Runs until stdin ends or `duration` s.
 */
export const coapServe: Task = (args, io) => {
  try {
    const port = num(args.port) ?? 5683;
    const server = createServer({ port, address: typeof args.address === "string" ? args.address : undefined });
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
    io.err(`coap server listening on udp port ${server.port}`);
    const tick = setRepeating(() => {
      seconds++;
      server.notify("/time");
    }, 1000);
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      clearTimer(tick);
      server.close();
      io.exit(0);
    };
    const duration = num(args.duration);
    if (duration !== undefined) setTimer(stop, duration * 1000);
    io.onInput((d) => {
      if (d === null && duration === undefined) stop();
    });
  } catch (e) {
    fail(io, e);
  }
};
