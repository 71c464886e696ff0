/**
 * src/net inside the real XS engine (the bridge serves the host sockets from
 * the Node twins), against Python peers on 127.0.0.1: data integrity both
 * ways with bounded queues and a bounded XS heap, error codes, a server in
 * XS, UDP. Without python3: fail when CI is set, else skip.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bundleForXs, startXs, type XsEngine } from "../../host-shim/xs/engine.js";

const hasPython = spawnSync("python3", ["--version"]).status === 0;
if (!hasPython) {
  if (process.env.CI) throw new Error("python3 is required for test/interop/net-xs.test.ts (CI is set)");
  console.warn("skipping test/interop/net-xs.test.ts: python3 not found");
}

let xs: XsEngine;
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
  if (!hasPython) return;
  xs = await startXs({ bundle: await bundleForXs("test/interop/net-xs-entry.ts"), stdio: "ignore" });
}, 60_000);
afterAll(async () => {
  for (const c of children) c.kill();
  await xs?.close();
});

async function until(check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A Python program printing its port (or 0) first, then its findings. */
function python(script: string, ...args: string[]) {
  const child = spawn("python3", ["-u", "-c", script, ...args]);
  children.push(child);
  const lines: string[] = [];
  let buffer = "";
  child.stdout.on("data", (d) => {
    buffer += String(d);
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  });
  return { lines, ready: until(() => lines.length > 0).then(() => Number(lines[0])), kill: () => child.kill() };
}

const LISTEN = `
import socket, sys, time, hashlib, struct
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
`;
const SLOW_READER = `${LISTEN}
h = hashlib.sha256(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    h.update(d); n += len(d); time.sleep(0.001)
print(n, h.hexdigest(), flush=True)
`;
const FAST_SENDER = `${LISTEN}
block = bytes(range(256)) * 256; n = int(sys.argv[1]); sent = 0
while sent < n:
    k = min(len(block), n - sent); c.sendall(block[:k]); sent += k
c.close()
`;
const RESETTER = `${LISTEN}
c.sendall(b"partial"); time.sleep(0.1)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close(); time.sleep(1)
`;
const CLOSED_PORT = `
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1], flush=True); s.close()
`;
const CLIENTS = `
import socket, sys, threading
port = int(sys.argv[1]); print(0, flush=True); out = [None] * 4
def run(i):
    c = socket.create_connection(("127.0.0.1", port), timeout=10); m = ("xs-client-%d" % i).encode(); c.sendall(m); got = b""
    while len(got) < len(m):
        d = c.recv(1024)
        if not d: break
        got += d
    out[i] = got.decode(); c.close()
ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
for o in out: print(o, flush=True)
`;
const UDP_ECHO = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
d, a = s.recvfrom(65536); s.sendto(b"re:" + d, a)
`;

describe.skipIf(!hasPython)("src/net inside XS against Python peers", () => {
  test("TcpClient sends 10 MB to a slow reader: all of it, queue within its bound, XS heap bounded", async () => {
    const peer = python(SLOW_READER);
    const port = await peer.ready;
    const total = 10 * 1024 * 1024;
    const before = await xs.meters();
    const r = (await xs.call("sendMany", { port, total })) as Record<string, unknown>;
    const after = await xs.meters();
    expect(r).toMatchObject({ sent: total, error: null });
    expect(r.maxQueued as number).toBeLessThanOrEqual(32 * 1024 + 16 * 1024);
    expect(r.drains as number).toBeGreaterThan(0);
    await until(() => peer.lines.length === 2);
    const chunk = new Uint8Array(16 * 1024).map((_, i) => (i * 7) & 0xff);
    const h = createHash("sha256");
    for (let i = 0; i < total / chunk.length; i++) h.update(chunk);
    expect(peer.lines[1]).toBe(`${total} ${h.digest("hex")}`);
    if (process.env.MOTE_FIGURES) console.log(`xs heap before ${before.heapBytes} after ${after.heapBytes}; maxQueued ${r.maxQueued}`);
    expect(after.heapBytes - before.heapBytes).toBeLessThan(1024 * 1024);
  }, 90_000);

  test("TcpClient receives 10 MB from a fast sender through pause/resume, in order", async () => {
    const total = 10 * 1024 * 1024;
    const peer = python(FAST_SENDER, String(total));
    const port = await peer.ready;
    const r = (await xs.call("receiveMany", { port })) as Record<string, number | null>;
    expect(r).toMatchObject({ received: total, mismatches: 0, error: null });
    expect(r.maxChunk).toBeLessThanOrEqual(4096);
  }, 90_000);

  test("refused, dns and reset reach XS as NetError codes; misuse throws invalid-argument", async () => {
    const closed = python(CLOSED_PORT);
    const closedPort = await closed.ready;
    const resetter = python(RESETTER);
    const resetPort = await resetter.ready;
    expect(await xs.call("connectResult", { host: "127.0.0.1", port: closedPort })).toEqual({ text: "", error: "refused" });
    expect(await xs.call("connectResult", { host: "no-such-host.invalid", port: 80 })).toEqual({ text: "", error: "dns" });
    expect(await xs.call("connectResult", { host: "127.0.0.1", port: resetPort })).toEqual({ text: "partial", error: "reset" });
    expect(await xs.call("misuse")).toEqual(["invalid-argument", "invalid-argument", "invalid-argument", "invalid-argument"]);
  }, 60_000);

  test("a TcpServer in XS echoes to several Python clients", async () => {
    const port = (await xs.call("startEchoServer")) as number;
    expect(port).toBeGreaterThan(0);
    const clients = python(CLIENTS, String(port));
    await until(() => clients.lines.length === 5);
    expect(clients.lines.slice(1)).toEqual([0, 1, 2, 3].map((i) => `xs-client-${i}`));
    await xs.call("stopServer");
  }, 60_000);

  test("a UdpSocket in XS exchanges a datagram with Python", async () => {
    const peer = python(UDP_ECHO);
    const port = await peer.ready;
    expect(await xs.call("udpExchange", { port, message: "from xs" })).toEqual({ text: "re:from xs", address: "127.0.0.1", port });
  }, 30_000);
});
