// The HTTP GET binding over a socket that behaves like the platform wrapper:
// read(count) returns at most count bytes of what is held, never throws, and
// the count announced by onReadable may be stale (platform/tcp.ts).
import { describe, expect, test } from "vitest";
import { httpGet, type HttpSocketHandlers, type HttpTransport } from "../../src/http/client.js";

const bytes = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
const text = (b: Uint8Array) => String.fromCharCode(...b);

/** One connection; the test decides what the socket holds and what count it announces. */
function fakeTransport() {
  let handlers: HttpSocketHandlers | undefined;
  let held: number[] = [];
  const sent: string[] = [];
  const transport: HttpTransport = {
    connect(options) {
      handlers = options;
      return {
        read(count?: number) {
          if (held.length === 0) return undefined;
          const n = count === undefined ? held.length : Math.min(count, held.length);
          return new Uint8Array(held.splice(0, n));
        },
        write: (data) => void sent.push(text(data)),
        close: () => {
          held = [];
        },
      };
    },
    resolve: (_host, callback) => callback("10.0.0.1"),
    now: () => 0,
    alarm: () => ({ arm() {}, close() {} }),
  };
  return {
    transport,
    sent,
    connected: () => handlers!.onWritable(4096),
    receive: (data: string) => void held.push(...bytes(data)),
    announce: (count: number) => handlers!.onReadable(count),
  };
}

describe("HTTP GET binding", () => {
  test("a response announced with a stale, low count is read whole: the count is a hint, not a limit", () => {
    const t = fakeTransport();
    let body = "";
    const ends: string[] = [];
    httpGet(t.transport, { url: "http://10.0.0.1/fw.bin" }, {
      onHead: (head) => ends.push(`head ${head.status}`),
      onBody: (data) => void (body += text(data)),
      onEnd: () => ends.push("end"),
      onClose: (code) => ends.push(`close ${code}`),
      room: () => 4,
    });
    t.connected();
    expect(t.sent.join("")).toMatch(/^GET \/fw\.bin HTTP\/1\.1\r\n/);
    t.receive("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
    t.announce(5); // the rest arrived after the count was taken
    expect(ends).toEqual(["head 200", "end"]);
    expect(body).toBe("0123456789");
  });
});
