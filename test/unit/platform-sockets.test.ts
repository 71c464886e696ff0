import net from "node:net";
import dgram from "node:dgram";
import { afterEach, describe, expect, test } from "vitest";
import { adoptTcp, connectTcp, type SocketErrorCode, type StreamSocket } from "../../src/platform/tcp.js";
import { listenTcp } from "../../src/platform/listener.js";
import { openUdp } from "../../src/platform/udp.js";
import { resolveHost } from "../../src/platform/dns.js";
import { MoteError } from "../../src/errors.js";
import { closeAllHandles, openHandleCount } from "../../host-shim/node/hardware.js";
import TCP, { SEND_BUDGET } from "../../host-shim/node/tcp.js";

const text = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
const str = (b: Uint8Array) => String.fromCharCode(...b);

/** Polls `check` every 2 ms, for at most `ms`. */
async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

function nodeServer(onSocket: (s: net.Socket) => void): Promise<{ port: number; close(): void }> {
  return new Promise((resolve) => {
    const server = net.createServer(onSocket);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({ port, close: () => server.close() });
    });
  });
}

/** A client socket that records everything the platform layer reports. */
function recorder() {
  const events: string[] = [];
  let received = "";
  let budget = 0;
  let error: SocketErrorCode | undefined;
  const handlers = {
    onReadable(count: number) {
      events.push(`readable ${count}`);
      const data = socket.read();
      if (data) received += str(data);
    },
    onWritable(count: number) {
      budget = count;
      if (!events.includes("connected")) events.push("connected");
    },
    onError(code: SocketErrorCode) {
      error = code;
      events.push(`error ${code}`);
    },
  };
  let socket!: StreamSocket;
  return {
    events,
    handlers,
    set socket(s: StreamSocket) {
      socket = s;
    },
    get received() {
      return received;
    },
    get budget() {
      return budget;
    },
    get error() {
      return error;
    },
  };
}

afterEach(() => closeAllHandles());

describe("platform TCP over the Node twin", () => {
  test("the first onWritable means connected; data goes both ways; a clean peer close is 'closed'", async () => {
    const server = await nodeServer((s) => s.on("data", (d) => s.end(Buffer.concat([Buffer.from("echo:"), d]))));
    const r = recorder();
    const socket = connectTcp({ address: "127.0.0.1", port: server.port, ...r.handlers });
    r.socket = socket;
    await until(() => r.events.includes("connected"));
    expect(r.budget).toBe(SEND_BUDGET);
    expect(socket.remotePort).toBe(server.port);
    expect(socket.remoteAddress).toBe("127.0.0.1");
    socket.write(text("hello"));
    await until(() => r.error !== undefined);
    expect(r.received).toBe("echo:hello");
    expect(r.error).toBe("closed");
    expect(r.events.at(-1)).toBe("error closed");
    server.close();
  });

  test("a write beyond the onWritable budget throws MoteError overflow and sends nothing", async () => {
    let got = 0;
    const server = await nodeServer((s) => s.on("data", (d) => (got += d.length)));
    const r = recorder();
    const socket = connectTcp({ address: "127.0.0.1", port: server.port, ...r.handlers });
    r.socket = socket;
    expect(() => socket.write(text("x"))).toThrow(MoteError); // not connected: budget 0
    await until(() => r.events.includes("connected"));
    const tooBig = new Uint8Array(r.budget + 1);
    expect(() => socket.write(tooBig)).toThrowError(expect.objectContaining({ code: "overflow" }));
    socket.write(new Uint8Array(r.budget));
    await until(() => got === SEND_BUDGET);
    socket.close();
    server.close();
  });

  test("connecting to a closed port reports 'refused'", async () => {
    const server = await nodeServer(() => {});
    const port = server.port;
    server.close();
    await new Promise((r) => setTimeout(r, 10));
    const r = recorder();
    r.socket = connectTcp({ address: "127.0.0.1", port, ...r.handlers });
    await until(() => r.error !== undefined);
    expect(r.events).toEqual(["error refused"]);
  });

  test("a peer reset mid-stream reports 'reset'", async () => {
    const server = await nodeServer((s) => {
      s.write("partial");
      setTimeout(() => s.resetAndDestroy(), 20);
    });
    const r = recorder();
    r.socket = connectTcp({ address: "127.0.0.1", port: server.port, ...r.handlers });
    await until(() => r.error !== undefined);
    expect(r.received).toBe("partial");
    expect(r.error).toBe("reset");
    server.close();
  });

  test("no callback runs after close()", async () => {
    const server = await nodeServer((s) => {
      const t = setInterval(() => s.writable && s.write("tick"), 2);
      s.on("close", () => clearInterval(t));
    });
    const r = recorder();
    const socket = connectTcp({ address: "127.0.0.1", port: server.port, ...r.handlers });
    r.socket = socket;
    await until(() => r.received.length > 0);
    socket.close();
    socket.close();
    const seen = r.events.length;
    await new Promise((res) => setTimeout(res, 30));
    expect(r.events.length).toBe(seen);
    expect(() => socket.write(text("late"))).toThrowError(expect.objectContaining({ code: "closed" }));
    expect(socket.read()).toBeUndefined();
    server.close();
  });

  test("read(count) returns at most count bytes and the rest stays readable", async () => {
    const server = await nodeServer((s) => s.end("0123456789"));
    const parts: string[] = [];
    let closed = false;
    const socket: StreamSocket = connectTcp({
      address: "127.0.0.1",
      port: server.port,
      onReadable() {
        for (let chunk = socket.read(4); chunk; chunk = socket.read(4)) parts.push(str(chunk));
      },
      onWritable() {},
      onError() {
        closed = true;
      },
    });
    await until(() => closed);
    expect(parts.join("")).toBe("0123456789");
    expect(parts.every((p) => p.length <= 4)).toBe(true);
    server.close();
  });

  test("readScratch() reads what was announced into one reused buffer, the same view while the count repeats", async () => {
    const server = await nodeServer(async (s) => {
      for (const part of ["abcd", "efgh", "ijklmn"]) {
        s.write(part);
        await new Promise((r) => setTimeout(r, 30)); // one announcement each
      }
      s.end();
    });
    const got: { text: string; view: Uint8Array }[] = [];
    let closed = false;
    const socket: StreamSocket = connectTcp({
      address: "127.0.0.1",
      port: server.port,
      onReadable() {
        const v = socket.readScratch();
        if (v) got.push({ text: str(v), view: v });
        expect(socket.read()).toBeUndefined(); // nothing was left behind
      },
      onWritable() {},
      onError() {
        closed = true;
      },
    });
    await until(() => closed);
    expect(got.map((g) => g.text)).toEqual(["abcd", "efgh", "ijklmn"]);
    expect(got[1].view).toBe(got[0].view); // 4 bytes again: no new view
    expect(got[2].view.buffer).toBe(got[0].view.buffer); // 6 bytes: a new view of the same buffer
    expect(str(got[0].view)).toBe("ijkl"); // written again: a reader copies what it keeps
    server.close();
  });

  test("the Node twin's read(buffer) fills the whole buffer and returns its length, and refuses more than it holds", async () => {
    const server = await nodeServer((s) => s.end("0123456789"));
    const results: unknown[] = [];
    let closed = false;
    new TCP({
      address: "127.0.0.1",
      port: server.port,
      onReadable(this: InstanceType<typeof TCP>, count: number) {
        if (count < 10) return; // the whole text in one announcement
        const into = new Uint8Array(4);
        results.push(this.read(into), str(into));
        results.push(this.read(new Uint8Array(new ArrayBuffer(8), 2, 4)));
        expect(() => this.read(new Uint8Array(3))).toThrow("invalid");
        results.push(str(new Uint8Array(this.read() as ArrayBuffer)));
      },
      onError() {
        closed = true;
      },
    });
    await until(() => closed);
    expect(results).toEqual([4, "0123", 4, "89"]);
    server.close();
  });

  test("bad arguments are MoteError invalid-argument", () => {
    const h = { onReadable() {}, onWritable() {}, onError() {} };
    expect(() => connectTcp({ address: "example.com", port: 80, ...h })).toThrowError(
      expect.objectContaining({ code: "invalid-argument" }),
    );
    expect(() => connectTcp({ address: "127.0.0.1", port: 0, ...h })).toThrowError(
      expect.objectContaining({ code: "invalid-argument" }),
    );
    expect(() => connectTcp({ address: "127.0.0.1", port: 70000, ...h })).toThrowError(
      expect.objectContaining({ code: "invalid-argument" }),
    );
    expect(() => connectTcp({ address: "127.0.0.1", port: 1.5, ...h })).toThrowError(
      expect.objectContaining({ code: "invalid-argument" }),
    );
    expect(() => listenTcp({ port: -1, onConnection() {} })).toThrowError(
      expect.objectContaining({ code: "invalid-argument" }),
    );
    expect(() => openUdp({ port: 65536, onPacket() {} })).toThrowError(
      expect.objectContaining({ code: "invalid-argument" }),
    );
  });
});

describe("platform listener over the Node twin", () => {
  test("the port is known at once, accepted connections are adopted and echo", async () => {
    const served: StreamSocket[] = [];
    const listener = listenTcp({
      port: 0,
      address: "127.0.0.1",
      onConnection(accepted) {
        // Data may be announced before the first onWritable (lwip delivers
        // readable first): hold it until the socket says it can write.
        let pending: Uint8Array[] = [];
        let budget = 0;
        const flush = () => {
          while (pending.length > 0 && pending[0].length <= budget) {
            const d = pending.shift()!;
            s.write(d);
            budget -= d.length;
          }
        };
        const s: StreamSocket = adoptTcp(accepted, {
          onReadable() {
            const d = s.read();
            if (d) pending.push(d);
            flush();
          },
          onWritable(count) {
            budget = count;
            flush();
          },
          onError() {
            pending = [];
          },
        });
        served.push(s);
      },
    });
    expect(listener.port).toBeGreaterThan(0);
    const replies = await Promise.all(
      ["a", "b", "c"].map(
        (m) =>
          new Promise<string>((resolve, reject) => {
            const c = net.connect(listener.port, "127.0.0.1", () => c.write(m));
            c.on("data", (d) => {
              resolve(String(d));
              c.end();
            });
            c.on("error", reject);
          }),
      ),
    );
    expect(replies).toEqual(["a", "b", "c"]);
    expect(served.length).toBe(3);
    listener.close();
  });

  test("listening on a port in use is a MoteError address-in-use", () => {
    const a = listenTcp({ port: 0, address: "127.0.0.1", onConnection() {} });
    expect(() => listenTcp({ port: a.port, address: "127.0.0.1", onConnection() {} })).toThrowError(
      expect.objectContaining({ code: "address-in-use" }),
    );
    a.close();
  });
});

describe("platform UDP over the Node twin", () => {
  test("a datagram round trip carries the source address and port", async () => {
    const peer = dgram.createSocket("udp4");
    await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
    peer.on("message", (m, info) => peer.send(Buffer.concat([Buffer.from("re:"), m]), info.port, info.address));
    const got: { data: string; address: string; port: number }[] = [];
    const socket = openUdp({
      address: "127.0.0.1",
      onPacket(data, address, port) {
        got.push({ data: str(data), address, port });
      },
    });
    expect(socket.port).toBeGreaterThan(0);
    socket.send(text("ping"), "127.0.0.1", peer.address().port);
    await until(() => got.length === 1);
    expect(got[0]).toEqual({ data: "re:ping", address: "127.0.0.1", port: peer.address().port });
    expect(() => socket.send(text("x"), "not an ip", 1)).toThrowError(expect.objectContaining({ code: "invalid-argument" }));
    socket.close();
    expect(() => socket.send(text("x"), "127.0.0.1", 1)).toThrowError(expect.objectContaining({ code: "closed" }));
    peer.close();
  });
});

describe("platform DNS over the Node twin", () => {
  test("IP literals come back as they are, asynchronously", async () => {
    let result: string | undefined;
    resolveHost("127.0.0.1", (a) => (result = a));
    expect(result).toBeUndefined();
    await until(() => result !== undefined);
    expect(result).toBe("127.0.0.1");
  });

  test("localhost resolves to an IPv4 address", async () => {
    let result: string | undefined;
    let error: string | undefined;
    resolveHost("localhost", (a, e) => ((result = a), (error = e)));
    await until(() => result !== undefined || error !== undefined);
    expect(result).toBe("127.0.0.1");
  });

  test("a malformed or unknown host name is a 'dns' error", async () => {
    const errors: (string | undefined)[] = [];
    resolveHost("bad host!", (_a, e) => errors.push(e));
    resolveHost("no-such-host.invalid", (_a, e) => errors.push(e));
    await until(() => errors.length === 2, 10_000);
    expect(errors).toEqual(["dns", "dns"]);
    expect(() => resolveHost("", () => {})).toThrowError(expect.objectContaining({ code: "invalid-argument" }));
  });
});

test("closeAllHandles leaves no host object open", () => {
  const l = listenTcp({ port: 0, address: "127.0.0.1", onConnection() {} });
  openUdp({ port: 0, address: "127.0.0.1", onPacket() {} });
  expect(openHandleCount()).toBeGreaterThanOrEqual(2);
  closeAllHandles();
  expect(openHandleCount()).toBe(0);
  void l;
});

describe("Node twins take the values the XS bridge sends", () => {
  test("null for an optional argument counts as absent (read(null) reads all)", async () => {
    const { default: TCP } = await import("../../host-shim/node/tcp.js");
    const server = await nodeServer((s) => s.end("abc"));
    let got: ArrayBuffer | undefined;
    let ended = false;
    new TCP({
      address: "127.0.0.1",
      port: server.port,
      nodelay: null as unknown as boolean,
      format: null as unknown as "buffer",
      from: null as unknown as undefined,
      onReadable(this: InstanceType<typeof TCP>) {
        got = this.read(null) as ArrayBuffer | undefined;
      },
      onError() {
        ended = true;
      },
    });
    await until(() => ended);
    expect(got && str(new Uint8Array(got))).toBe("abc");
    server.close();
  });
});
