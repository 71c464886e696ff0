import { describe, expect, test } from "vitest";
import { HttpGet, type HttpGetAction } from "../../src/http/get.js";
import { encodeGetRequest } from "../../src/http/request.js";
import { HttpResponseParser, parseContentRange, type HttpResponseEvent } from "../../src/http/response.js";
import { parseUrl } from "../../src/http/url.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Feeds `wire` in pieces of `step` bytes; returns the events with bodies joined. */
function decode(wire: string, step = wire.length, options = {}, close = false) {
  const p = new HttpResponseParser(options);
  const bytes = enc(wire);
  const events: HttpResponseEvent[] = [];
  for (let i = 0; i < bytes.length; i += step) events.push(...p.feed(bytes.subarray(i, i + step)));
  if (close) events.push(...p.finish());
  let body = "";
  const kinds: string[] = [];
  for (const e of events) {
    if (e.type === "body") body += dec(e.data);
    else kinds.push(e.type === "error" ? `error:${e.code}` : e.type);
  }
  const head = events.find((e) => e.type === "head");
  return { kinds, body, head: head?.type === "head" ? head.head : undefined };
}

const FIXED = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: b\r\n\r\nhello world";
const CHUNKED = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";

describe("HTTP/1.1 response decoding", () => {
  for (const step of [1, 2, 7, 1000]) {
    test(`a Content-Length response decodes the same fed ${step} byte(s) at a time`, () => {
      const r = decode(FIXED, step);
      expect(r.kinds).toEqual(["head", "end"]);
      expect(r.body).toBe("hello world");
      expect(r.head).toMatchObject({ status: 200, reason: "OK", contentLength: 11, chunked: false });
      expect(r.head!.headers).toContainEqual(["x-a", "b"]);
    });
    test(`a chunked response with extensions and trailers decodes fed ${step} byte(s) at a time`, () => {
      const r = decode(CHUNKED, step);
      expect(r.kinds).toEqual(["head", "end"]);
      expect(r.body).toBe("hello world");
    });
  }

  test("a response without length runs until the peer closes", () => {
    const r = decode("HTTP/1.0 200 OK\r\n\r\nabc", 1, {}, true);
    expect([r.kinds, r.body]).toEqual([["head", "end"], "abc"]);
  });

  test("a body cut short by the peer is unexpected-eof", () => {
    expect(decode(FIXED.slice(0, -3), 4, {}, true).kinds).toEqual(["head", "error:unexpected-eof"]);
    expect(decode(CHUNKED.slice(0, 60), 4, {}, true).kinds).toEqual(["head", "error:unexpected-eof"]);
  });

  test("bytes after the end are not taken as body", () => {
    const r = decode(FIXED + "EXTRA");
    expect(r.body).toBe("hello world");
  });

  test("skips a 100 Continue before the final response", () => {
    const r = decode("HTTP/1.1 100 Continue\r\n\r\n" + FIXED, 3);
    expect(r.head?.status).toBe(200);
    expect(r.body).toBe("hello world");
  });

  test("HEAD, 204 and 304 responses have no body", () => {
    expect(decode("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 1, { head: true }).kinds).toEqual(["head", "end"]);
    expect(decode("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n").kinds).toEqual(["head", "end"]);
  });

  test("reads Content-Range of a 206", () => {
    const r = decode("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 10-19/100\r\nContent-Length: 10\r\n\r\n0123456789");
    expect(r.head?.contentRange).toEqual({ start: 10, end: 19, total: 100 });
    expect(parseContentRange("bytes 5-4/10")).toBeUndefined();
    expect(parseContentRange("bytes 0-9/*")).toEqual({ start: 0, end: 9, total: undefined });
    expect(parseContentRange("bytes 0-10/10")).toBeUndefined();
  });

  const faults: Array<[string, string, string]> = [
    ["a bad status line", "HTTP/2 200 OK\r\n\r\n", "bad-status-line"],
    ["garbage", "\x00\x01\x02\r\n\r\n", "bad-status-line"],
    ["a header without colon", "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", "bad-header"],
    ["an obs-fold line", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", "bad-header"],
    ["a negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad-content-length"],
    ["two different lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "bad-content-length"],
    ["gzip transfer coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "bad-header"],
    ["a non-hex chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad-chunk"],
    ["a huge chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n123456789\r\n", "bad-chunk"],
    ["chunk data without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", "bad-chunk"],
  ];
  for (const [what, wire, code] of faults) {
    test(`${what} is a typed error (${code})`, () => {
      expect(decode(wire, 1).kinds.at(-1)).toBe(`error:${code}`);
      expect(decode(wire).kinds.at(-1)).toBe(`error:${code}`);
    });
  }

  test("a header block over the bound is header-too-large, however it arrives", () => {
    const wire = "HTTP/1.1 200 OK\r\nX: " + "a".repeat(10_000) + "\r\n\r\n";
    expect(decode(wire, 1).kinds).toEqual(["error:header-too-large"]);
    expect(decode(wire, 500, { maxHeaderBytes: 2048 }).kinds).toEqual(["error:header-too-large"]);
  });

  test("more headers than allowed is too-many-headers", () => {
    const wire = "HTTP/1.1 200 OK\r\n" + "A: b\r\n".repeat(5) + "\r\n";
    expect(decode(wire, 9, { maxHeaders: 4 }).kinds).toEqual(["error:too-many-headers"]);
  });

  test("random bytes never throw and end in at most one error", () => {
    let x = 12345;
    for (let round = 0; round < 300; round++) {
      const p = new HttpResponseParser({ maxHeaderBytes: 512 });
      const events: HttpResponseEvent[] = [];
      const prefix = round % 2 === 0 ? enc("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") : new Uint8Array(0);
      const junk = new Uint8Array(200).map(() => ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) & 255);
      events.push(...p.feed(prefix), ...p.feed(junk), ...p.finish());
      expect(events.filter((e) => e.type === "error").length).toBeLessThanOrEqual(1);
    }
  });
});

describe("GET request and URL", () => {
  test("asks for the rest of the file from an offset, one request per connection", () => {
    const url = parseUrl("http://127.0.0.1:8080/fw/app-2.0.0.bin?x=1")!;
    expect(url).toEqual({ scheme: "http", host: "127.0.0.1", port: 8080, target: "/fw/app-2.0.0.bin?x=1" });
    const text = dec(encodeGetRequest({ url, rangeStart: 4096 }));
    expect(text).toBe(
      "GET /fw/app-2.0.0.bin?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nRange: bytes=4096-\r\n" +
        "User-Agent: mote\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
    );
    expect(dec(encodeGetRequest({ url: parseUrl("http://[::1]/")!, rangeStart: 0 }))).toContain("GET / HTTP/1.1\r\nHost: [::1]\r\nUser-Agent");
  });

  test("refuses URLs it cannot use and header injection", () => {
    for (const bad of ["", "fw.bin", "http://", "http://a:99999/", "http://a b/", "mailto:x@y"]) expect(parseUrl(bad)).toBeUndefined();
    expect(() => encodeGetRequest({ url: parseUrl("http://a/")!, headers: [["X", "a\r\nEvil: 1"]] })).toThrow(/bad-header/);
  });
});

describe("the GET exchange core", () => {
  const kinds = (a: HttpGetAction[]) => a.map((x) => (x.type === "close" ? `close:${x.reason.code}` : x.type));

  test("connects, sends the request, delivers head, body and end, then closes as done", () => {
    const g = new HttpGet({ request: { url: parseUrl("http://h/x")! } });
    expect(kinds(g.handle({ type: "start" }, 0))).toEqual(["connect"]);
    expect(kinds(g.handle({ type: "open" }, 5))).toEqual(["send"]);
    expect(kinds(g.handle({ type: "bytes", data: enc(FIXED) }, 6))).toEqual(["head", "body", "end", "close:done"]);
    expect(g.nextDeadline()).toBeUndefined();
  });

  test("times out a connect and a silent server on the fake clock", () => {
    const g = new HttpGet({ request: { url: parseUrl("http://h/x")! }, connectTimeoutMs: 1000, idleTimeoutMs: 3000 });
    g.handle({ type: "start" }, 0);
    expect(g.nextDeadline()).toBe(1000);
    expect(g.handle({ type: "timer" }, 999)).toEqual([]);
    expect(kinds(g.handle({ type: "timer" }, 1000))).toEqual(["close:connect-timeout"]);

    const h = new HttpGet({ request: { url: parseUrl("http://h/x")! }, idleTimeoutMs: 3000 });
    h.handle({ type: "start" }, 0);
    h.handle({ type: "open" }, 10);
    h.handle({ type: "bytes", data: enc("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab") }, 2000);
    expect(h.nextDeadline()).toBe(5000);
    expect(kinds(h.handle({ type: "timer" }, 5000))).toEqual(["close:idle-timeout"]);
  });

  test("a peer that closes mid-body is peer-closed, a reset is network", () => {
    const g = new HttpGet({ request: { url: parseUrl("http://h/x")! } });
    g.handle({ type: "start" }, 0);
    g.handle({ type: "open" }, 0);
    g.handle({ type: "bytes", data: enc(FIXED.slice(0, -2)) }, 0);
    expect(kinds(g.handle({ type: "closed" }, 0))).toEqual(["close:peer-closed"]);
    const h = new HttpGet({ request: { url: parseUrl("http://h/x")! } });
    h.handle({ type: "start" }, 0);
    expect(kinds(h.handle({ type: "closed", error: "refused" }, 0))).toEqual(["close:network"]);
  });

  test("misuse throws MoteError", () => {
    const g = new HttpGet({ request: { url: parseUrl("http://h/x")! } });
    expect(() => g.handle({ type: "open" }, 0)).toThrow(/bad-state/);
  });
});
