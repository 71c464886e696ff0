/**
 * HTTP/1.1 responses (RFC 9112) into the sans-I/O parser (src/http/response.ts).
 *
 * Inputs: responses built from parts (status lines good and bad, interim 1xx,
 * Content-Length single/list/conflicting/huge, Transfer-Encoding chunked with
 * extensions and trailers, Content-Range, obs-fold, many headers), mutated,
 * random bytes; fed in a random chunking, sometimes followed by `finish()`.
 *
 * Properties: events only of the four kinds; `error` codes from the
 * documented set, and nothing after an error or `end`; at most one `head`;
 * body bytes never exceed the input and, with Content-Length framing, equal
 * it; and the same events (body bytes joined) for every chunking.
 */
import { HttpResponseParser, type HttpResponseEvent } from "../../src/http/response.js";
import { encodeUtf8 } from "../../src/util/utf8.js";
import { assert, deepEqual, hex, showValue, type FuzzTarget, type Rng } from "../engine.js";
import { mutateBytes, randomBytes, randomChunking } from "../mutators.js";

export interface HttpInput {
  bytes: Uint8Array;
  chunks: number[];
  finish: boolean;
  head: boolean;
  maxHeaderBytes?: number;
  maxHeaders?: number;
}

const CODES = Object.freeze(["bad-status-line", "bad-header", "header-too-large", "too-many-headers", "bad-content-length", "bad-chunk", "unexpected-eof"]);

function chunkedBody(rng: Rng): string {
  let s = "";
  const n = rng.size(4);
  for (let k = 0; k < n; k++) {
    const len = 1 + rng.size(40);
    s += `${len.toString(16)}${rng.bool(0.2) ? ";ext=1" : ""}\r\n${"x".repeat(len)}\r\n`;
  }
  s += rng.bool(0.8) ? "0\r\n" : rng.pick(["fffffffff\r\n", "-1\r\n", "0x10\r\n", "\r\n"]);
  if (rng.bool(0.3)) s += "Trailer-X: 1\r\n";
  return s + "\r\n";
}

export function generateHttp(rng: Rng): HttpInput {
  let text = "";
  if (rng.bool(0.15)) text += "HTTP/1.1 100 Continue\r\n\r\n";
  const status = rng.pick(["200", "206", "204", "304", "404", "101", "999", "20", "2000", "abc"]);
  text += rng.pick([`HTTP/1.1 ${status} OK\r\n`, `HTTP/1.0 ${status}\r\n`, `HTTP/2 ${status} X\r\n`, `HTTP/1.1 ${status} \x80\xff\r\n`]);
  const body = "b".repeat(rng.size(100));
  const framing = rng.int(4);
  const headers: string[] = [];
  if (framing === 0) headers.push(`Content-Length: ${rng.pick([String(body.length), `${body.length}, ${body.length}`, `${body.length}, 1`, "999999999999999", "-1", "1e3", ""])}`);
  if (framing === 1) headers.push(`Transfer-Encoding: ${rng.pick(["chunked", "gzip, chunked", "chunked, gzip", "CHUNKED"])}`);
  if (rng.bool(0.2)) headers.push(`Content-Range: bytes ${rng.pick(["0-9/10", "5-1/10", "0-9/*", "0-10/10", "x"])}`);
  const extra = rng.size(rng.bool(0.05) ? 100 : 5);
  for (let k = 0; k < extra; k++) headers.push(rng.pick(["X-A: 1", "Server: t", " folded", "Bad Name: x", ": empty", "Y:"]));
  text += headers.join("\r\n") + (headers.length ? "\r\n" : "") + "\r\n";
  text += framing === 1 ? chunkedBody(rng) : body;
  let bytes: Uint8Array = Uint8Array.from(Array.from(text, (c) => c.charCodeAt(0) & 0xff));
  const mode = rng.int(6);
  if (mode === 0) bytes = randomBytes(rng, 200);
  else if (mode <= 2) bytes = mutateBytes(rng, bytes, 4, [encodeUtf8("\r\n"), encodeUtf8("Content-Length: 5\r\n")]);
  const input: HttpInput = { bytes, chunks: randomChunking(rng, bytes.length), finish: rng.bool(0.7), head: rng.bool(0.1) };
  if (rng.bool(0.1)) input.maxHeaderBytes = rng.pick([4, 64, 256]);
  if (rng.bool(0.1)) input.maxHeaders = rng.pick([0, 1, 3]);
  return input;
}

interface Summary {
  events: (Exclude<HttpResponseEvent, { type: "body" }> | { type: "body"; data: string })[];
}

function run(input: HttpInput, chunks: number[]): Summary {
  const p = new HttpResponseParser({ head: input.head, maxHeaderBytes: input.maxHeaderBytes, maxHeaders: input.maxHeaders });
  const out: Summary["events"] = [];
  let body: number[] = [];
  const take = (events: HttpResponseEvent[]) => {
    for (const e of events) {
      if (e.type === "body") {
        for (let i = 0; i < e.data.length; i++) body.push(e.data[i]);
        continue;
      }
      if (body.length) {
        out.push({ type: "body", data: hex(Uint8Array.from(body)) });
        body = [];
      }
      out.push(e.type === "error" ? { type: "error", code: e.code, message: "" } : e);
    }
  };
  let prev = 0;
  for (const end of chunks) {
    take(p.feed(input.bytes.subarray(prev, end)));
    prev = end;
  }
  if (input.finish) take(p.finish());
  if (body.length) out.push({ type: "body", data: hex(Uint8Array.from(body)) });
  return { events: out };
}

export const httpTarget: FuzzTarget<HttpInput> = {
  name: "http-response",
  description: "HTTP/1.1 responses (framing variants, 1xx, chunked+trailers, bounds, mutated) in random chunkings: typed events, chunking-invariant, body bounded",
  generate: generateHttp,
  show: (i) => showValue({ ...i, bytes: hex(i.bytes) }),
  check(input) {
    const a = run(input, input.chunks);
    const b = run(input, [input.bytes.length]);
    assert(deepEqual(a, b), `events depend on chunking: ${showValue(a)} vs ${showValue(b)}`);
    let heads = 0;
    let bodyBytes = 0;
    const ev = a.events;
    for (let k = 0; k < ev.length; k++) {
      const e = ev[k];
      if (e.type === "head") heads++;
      if (e.type === "body") bodyBytes += e.data.length / 2;
      if (e.type === "error") assert(CODES.includes(e.code), `unknown error code ${e.code}`);
      if (e.type === "error" || e.type === "end") assert(k === ev.length - 1, `event after ${e.type}`);
      const headSeen = ev.slice(0, k).some((x) => x.type === "head");
      if (e.type === "body") assert(headSeen, "body before head");
    }
    assert(heads <= 1, "more than one head");
    assert(bodyBytes <= input.bytes.length, "more body bytes than input");
    const head = ev.find((e): e is Extract<HttpResponseEvent, { type: "head" }> => e.type === "head");
    const ended = ev.length > 0 && ev[ev.length - 1].type === "end";
    if (head && ended && head.head.contentLength !== undefined && !head.head.chunked && !input.head && head.head.status !== 204 && head.head.status !== 304) {
      assert(bodyBytes === head.head.contentLength, `Content-Length ${head.head.contentLength} but ${bodyBytes} body bytes`);
    }
    const last = ev[ev.length - 1];
    return last === undefined ? "none" : last.type === "error" ? `error:${last.code}` : `ok:${last.type}`;
  },
};
