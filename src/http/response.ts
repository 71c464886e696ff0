/**
 * HTTP/1.1 response decoder, sans-I/O (RFC 9112).
 *
 * `feed(bytes)` buffers only what it must (the header block, a chunk-size
 * line) and returns events; body bytes come out as views of the input, never
 * copied. `finish()` is called when the peer closes. Faults of the peer come
 * back as an `{ type: "error", code }` event and the decoder stops.
 *
 * Framing (RFC 9112 §6.3): HEAD and 1xx/204/304 responses have no body;
 * `Transfer-Encoding: chunked` (§7.1) wins over Content-Length; else
 * Content-Length (§6.2); else the body runs until the connection closes.
 * Interim 1xx responses (RFC 9110 §15.2) are skipped.
 *
 * Bounds (options): header block `maxHeaderBytes` (default 8192), header
 * count `maxHeaders` (64), chunk-size line + extensions and each trailer
 * line 1024 bytes.
 */

export type HttpFormatCode =
  | "bad-status-line"
  | "bad-header"
  | "header-too-large"
  | "too-many-headers"
  | "bad-content-length"
  | "bad-chunk"
  | "unexpected-eof";

export interface ContentRange {
  readonly start: number;
  readonly end: number;
  /** Complete length, undefined for "*". */
  readonly total: number | undefined;
}

export interface ResponseHead {
  readonly status: number;
  readonly reason: string;
  /** Field names lowercased, in order received. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly contentLength: number | undefined;
  readonly chunked: boolean;
  /** Parsed `Content-Range: bytes a-b/n` (RFC 9110 §14.4), when present and well-formed. */
  readonly contentRange: ContentRange | undefined;
}

export type HttpResponseEvent =
  | { type: "head"; head: ResponseHead }
  | { type: "body"; data: Uint8Array }
  | { type: "end" }
  | { type: "error"; code: HttpFormatCode; message: string };

export interface HttpResponseParserOptions {
  maxHeaderBytes?: number;
  maxHeaders?: number;
  /** The request was HEAD: the response has no body whatever its headers say. */
  head?: boolean;
}

type Phase = "head" | "length" | "until-close" | "chunk-size" | "chunk-data" | "chunk-crlf" | "trailers" | "done" | "failed";

const LINE_LIMIT = 1024;

export function headerValue(head: ResponseHead, name: string): string | undefined {
  for (const [k, v] of head.headers) if (k === name) return v;
  return undefined;
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

const TOKEN = (): RegExp => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/; // made per call: a RegExp must not be preloaded (docs/moddable.md)

export function parseContentRange(value: string): ContentRange | undefined {
  const m = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15}|\*)$/.exec(value.trim());
  if (m === null) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === "*" ? undefined : Number(m[3]);
  if (end < start || (total !== undefined && end >= total)) return undefined;
  return { start, end, total };
}

export class HttpResponseParser {
  readonly #maxHeaderBytes: number;
  readonly #maxHeaders: number;
  readonly #isHead: boolean;
  #phase: Phase = "head";
  /** Header block or the current chunk-size / trailer line being collected. */
  #buffer: Uint8Array;
  #buffered = 0;
  #remaining = 0;

  constructor(options: HttpResponseParserOptions = {}) {
    this.#maxHeaderBytes = options.maxHeaderBytes ?? 8192;
    this.#maxHeaders = options.maxHeaders ?? 64;
    this.#isHead = options.head ?? false;
    this.#buffer = new Uint8Array(Math.min(this.#maxHeaderBytes, 1024));
  }

  get done(): boolean {
    return this.#phase === "done" || this.#phase === "failed";
  }

  #fail(code: HttpFormatCode, message: string): HttpResponseEvent {
    this.#phase = "failed";
    return { type: "error", code, message };
  }

  /** Appends to the line/header buffer, growing up to `limit`. False when over the limit. */
  #collect(byte: number, limit: number): boolean {
    if (this.#buffered >= limit) return false;
    if (this.#buffered === this.#buffer.length) {
      const bigger = new Uint8Array(Math.min(limit, this.#buffer.length * 2));
      bigger.set(this.#buffer);
      this.#buffer = bigger;
    }
    this.#buffer[this.#buffered++] = byte;
    return true;
  }

  feed(data: Uint8Array): HttpResponseEvent[] {
    const events: HttpResponseEvent[] = [];
    let i = 0;
    while (i < data.length && !this.done) {
      switch (this.#phase) {
        case "head": {
          if (!this.#collect(data[i++], this.#maxHeaderBytes)) {
            events.push(this.#fail("header-too-large", `over ${this.#maxHeaderBytes} bytes`));
            break;
          }
          const n = this.#buffered;
          if (n >= 4 && this.#buffer[n - 1] === 10 && this.#buffer[n - 2] === 13 && this.#buffer[n - 3] === 10 && this.#buffer[n - 4] === 13) {
            const event = this.#parseHead(n - 4);
            this.#buffered = 0;
            if (event !== undefined) events.push(event);
            if ((this.#phase as Phase) === "done") events.push({ type: "end" });
          }
          break;
        }
        case "length": {
          const take = Math.min(this.#remaining, data.length - i);
          events.push({ type: "body", data: data.subarray(i, i + take) });
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) {
            this.#phase = "done";
            events.push({ type: "end" });
          }
          break;
        }
        case "until-close":
          events.push({ type: "body", data: data.subarray(i) });
          i = data.length;
          break;
        case "chunk-size": {
          const b = data[i++];
          if (b === 10) {
            const event = this.#parseChunkSize();
            if (event !== undefined) events.push(event);
          } else if (!this.#collect(b, LINE_LIMIT)) events.push(this.#fail("bad-chunk", "chunk-size line too long"));
          break;
        }
        case "chunk-data": {
          const take = Math.min(this.#remaining, data.length - i);
          events.push({ type: "body", data: data.subarray(i, i + take) });
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) {
            this.#phase = "chunk-crlf";
            this.#buffered = 0;
          }
          break;
        }
        case "chunk-crlf": {
          // RFC 9112 §7.1: chunk-data is followed by CRLF.
          const b = data[i++];
          if (this.#buffered === 0 && b === 13) this.#buffered = 1;
          else if (this.#buffered === 1 && b === 10) {
            this.#buffered = 0;
            this.#phase = "chunk-size";
          } else events.push(this.#fail("bad-chunk", "missing CRLF after chunk data"));
          break;
        }
        case "trailers": {
          // RFC 9112 §7.1.2: trailer fields until an empty line; their content is ignored.
          const b = data[i++];
          if (b === 10) {
            const empty = this.#buffered === 0 || (this.#buffered === 1 && this.#buffer[0] === 13);
            this.#buffered = 0;
            if (empty) {
              this.#phase = "done";
              events.push({ type: "end" });
            }
          } else if (!this.#collect(b, LINE_LIMIT)) events.push(this.#fail("bad-chunk", "trailer line too long"));
          break;
        }
      }
    }
    return events;
  }

  /** The peer closed the connection. */
  finish(): HttpResponseEvent[] {
    if (this.#phase === "until-close") {
      this.#phase = "done";
      return [{ type: "end" }];
    }
    if (this.done) return [];
    return [this.#fail("unexpected-eof", `connection closed in ${this.#phase}`)];
  }

  #parseChunkSize(): HttpResponseEvent | undefined {
    let end = this.#buffered;
    if (end > 0 && this.#buffer[end - 1] === 13) end--;
    let line = latin1(this.#buffer, 0, end);
    this.#buffered = 0;
    const semi = line.indexOf(";"); // chunk extensions are ignored (§7.1.1)
    if (semi >= 0) line = line.slice(0, semi);
    line = line.trim();
    if (!/^[0-9A-Fa-f]{1,8}$/.test(line)) return this.#fail("bad-chunk", "bad chunk-size");
    const size = parseInt(line, 16);
    if (size === 0) this.#phase = "trailers";
    else {
      this.#remaining = size;
      this.#phase = "chunk-data";
    }
    return undefined;
  }

  #parseHead(end: number): HttpResponseEvent | undefined {
    const text = latin1(this.#buffer, 0, end);
    const lines = text.split("\r\n");
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
    const m = /^HTTP\/1\.[01] ([1-9][0-9]{2})(?: ([\t -~\x80-\xff]*))?$/.exec(lines[0]);
    if (m === null) return this.#fail("bad-status-line", lines[0].slice(0, 64));
    const status = Number(m[1]);
    if (lines.length - 1 > this.#maxHeaders) return this.#fail("too-many-headers", `over ${this.#maxHeaders}`);
    const headers: Array<readonly [string, string]> = [];
    let contentLength: number | undefined;
    let chunked = false;
    let contentRange: ContentRange | undefined;
    for (let k = 1; k < lines.length; k++) {
      const line = lines[k];
      const colon = line.indexOf(":");
      if (colon <= 0) return this.#fail("bad-header", line.slice(0, 64)); // obs-fold is refused too (§5.2)
      const name = line.slice(0, colon).toLowerCase();
      if (!TOKEN().test(name)) return this.#fail("bad-header", name.slice(0, 64));
      const value = line.slice(colon + 1).trim();
      headers.push([name, value]);
      if (name === "content-length") {
        // §6.3 rule 5: differing values are an error; a list of equal values is one value
        const values = value.split(",").map((v) => v.trim());
        if (!values.every((v) => /^[0-9]{1,15}$/.test(v) && v === values[0])) return this.#fail("bad-content-length", value.slice(0, 32));
        const n = Number(values[0]);
        if (contentLength !== undefined && contentLength !== n) return this.#fail("bad-content-length", "differing values");
        contentLength = n;
      } else if (name === "transfer-encoding") {
        const codings = value.toLowerCase().split(",").map((v) => v.trim());
        if (codings[codings.length - 1] !== "chunked" || codings.length > 1) return this.#fail("bad-header", `transfer-encoding ${value.slice(0, 32)}`);
        chunked = true;
      } else if (name === "content-range") contentRange = parseContentRange(value);
    }
    if (status < 200) {
      // interim response: drop it and wait for the final one
      return undefined;
    }
    const head: ResponseHead = { status, reason: m[2] ?? "", headers, contentLength: chunked ? undefined : contentLength, chunked, contentRange };
    if (this.#isHead || status === 204 || status === 304) this.#phase = "done";
    else if (chunked) this.#phase = "chunk-size";
    else if (contentLength !== undefined) this.#phase = contentLength === 0 ? "done" : "length";
    else this.#phase = "until-close";
    this.#remaining = contentLength ?? 0;
    return { type: "head", head };
  }
}
