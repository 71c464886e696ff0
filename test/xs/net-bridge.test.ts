/**
 * The bridge's data path with the real Node twins of embedded:io/socket/tcp
 * and /listener: raw ECMA-419 sockets inside XS against node:net peers.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bundleForXs, startXs, type XsEngine } from "../../host-shim/xs/engine.js";
import { openHandleCount } from "../../host-shim/node/hardware.js";
import { RECEIVE_LIMIT, resetTcpMemoryStats, tcpMemoryStats } from "../../host-shim/node/tcp.js";

function echoServer(): Promise<{ port: number; server: net.Server; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.pipe(s);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ port: (server.address() as net.AddressInfo).port, server, sockets })));
}

let xs: XsEngine;
let bundle: string;
beforeAll(async () => {
  bundle = await bundleForXs("test/xs/net-entry.ts");
  xs = await startXs({ bundle, stdio: "ignore" });
});
afterAll(async () => {
  await xs?.close();
});

describe("TCP through the XS bridge", () => {
  test("10 MB echo arrives complete and in order, and the XS heap stays small", async () => {
    const { port, server } = await echoServer();
    const before = await xs.meters();
    const total = 10 * 1024 * 1024;
    const r = (await xs.call("echoThrough", { port, total })) as Record<string, number>;
    const after = await xs.meters();
    server.close();
    expect(r.sent).toBe(total);
    expect(r.received).toBe(total);
    expect(r.mismatches).toBe(0);
    // Reads are bounded by the twin's receive limit, not by the 10 MB.
    expect(r.maxRead).toBeLessThanOrEqual(128 * 1024);
    expect(after.heapBytes - before.heapBytes).toBeLessThan(1024 * 1024);
  });

  test("a slow reader in XS holds the peer back: 10 MB arrive whole while XS and the twin buffer only a little", async () => {
    const total = 10 * 1024 * 1024;
    let written = 0;
    const server = net.createServer((s) => {
      s.on("error", () => {});
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!s.write(chunk)) return void s.once("drain", pump);
        }
        s.end();
      };
      pump();
    });
    const port = await new Promise<number>((r) => server.listen(0, "127.0.0.1", () => r((server.address() as net.AddressInfo).port)));
    resetTcpMemoryStats();
    const before = await xs.meters();
    const r = (await xs.call("slowReader", { port, total, pauseMs: 300 })) as { received: number; announcedMax: number };
    const after = await xs.meters();
    server.close();
    expect(r.received).toBe(total);
    // XS never held more than its local limit plus one pull of what the twin held.
    expect(r.announcedMax).toBeLessThanOrEqual(64 * 1024 + RECEIVE_LIMIT + 64 * 1024);
    expect(tcpMemoryStats().maxReceiveHeld).toBeLessThanOrEqual(RECEIVE_LIMIT + 64 * 1024);
    expect(after.heapBytes - before.heapBytes).toBeLessThan(1024 * 1024);
  });

  test("connecting to a closed port reports refused through onError", async () => {
    const probe = net.createServer();
    const port = await new Promise<number>((resolve) => probe.listen(0, "127.0.0.1", () => resolve((probe.address() as net.AddressInfo).port)));
    await new Promise((r) => probe.close(r));
    const r = (await xs.call("connectAndWaitForError", { port })) as { message: string };
    expect(r.message).toMatch(/^refused/);
  });

  test("a peer that resets mid-stream is reported through onError, after the data it sent", async () => {
    const server = net.createServer((s) => {
      s.on("error", () => {});
      s.write(Buffer.alloc(1000, 7), () => setTimeout(() => s.resetAndDestroy(), 20));
    });
    const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
    const r = (await xs.call("connectAndWaitForError", { port })) as { message: string; received: number };
    server.close();
    expect(r.received).toBe(1000);
    expect(r.message).toMatch(/^(reset|closed)/);
  });

  test("a listener in XS accepts connections that are adopted with new TCP({ from }) and echo", async () => {
    const handlesBefore = openHandleCount();
    const { port } = (await xs.call("listenAndEcho", { connections: 2 })) as { port: number };
    expect(port).toBeGreaterThan(0);
    const roundTrip = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const c = net.connect(port, "127.0.0.1", () => c.write(text));
        let got = "";
        c.on("data", (d) => {
          got += d.toString();
          if (got.length >= text.length) c.end();
        });
        c.on("close", () => resolve(got));
        c.on("error", reject);
      });
    expect(await Promise.all([roundTrip("hello from one"), roundTrip("and from two")])).toEqual(["hello from one", "and from two"]);
    // After its two connections the XS side closes them and the listener.
    for (let i = 0; i < 300 && openHandleCount() !== handlesBefore; i++) await new Promise((r) => setTimeout(r, 10));
    expect(openHandleCount()).toBe(handlesBefore);
  });
});

describe("closing an engine", () => {
  test("closes the sockets XS left open: the peer sees the end, no host handle stays open", async () => {
    const { port, server, sockets } = await echoServer();
    const handlesBefore = openHandleCount();
    const engine = await startXs({ bundle, stdio: "ignore" });
    expect(await engine.call("leaveSocketOpen", { port })).toBe("open");
    for (let i = 0; i < 100 && sockets.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sockets.size).toBe(1);
    expect(openHandleCount()).toBeGreaterThan(handlesBefore);
    await engine.close();
    expect(openHandleCount()).toBe(handlesBefore);
    for (let i = 0; i < 300 && sockets.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sockets.size).toBe(0);
    server.close();
  });
});
