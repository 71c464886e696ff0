/**
 * The CLI tasks tcpConnect / tcpListen / udpListen / udpSend (cli/tasks/tcp.ts,
 * cli/tasks/udp.ts) run by cli/engine.ts with --engine node, against Python
 * peers on 127.0.0.1. Without python3: fail when CI is set, else skip.
 */
import { spawn, spawnSync } from "node:child_process";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, test } from "vitest";
import { runTask } from "../../cli/engine.js";
import { closeAllHandles } from "../../host-shim/node/hardware.js";

const hasPython = spawnSync("python3", ["--version"]).status === 0;
if (!hasPython) {
  if (process.env.CI) throw new Error("python3 is required for test/interop/net-cli.test.ts (CI is set)");
  console.warn("skipping test/interop/net-cli.test.ts: python3 not found");
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

function stdio() {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  let err = "";
  stdout.on("data", (d) => out.push(d));
  stderr.on("data", (d) => (err += String(d)));
  return {
    stdio: { stdin, stdout, stderr },
    stdin,
    out: () => Buffer.concat(out).toString("latin1"),
    err: () => err,
  };
}

/** A Python program that prints a port (or 0) first and then its findings. */
function python(script: string, ...args: string[]) {
  const child = spawn("python3", ["-u", "-c", script, ...args]);
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
  const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  return { lines, exited, kill: () => child.kill(), ready: until(() => lines.length > 0).then(() => Number(lines[0])) };
}

afterEach(() => closeAllHandles());

// Accepts one client, reads to EOF, prints byte count + sha256 of what came, then greets nobody.
const SINK = `
import socket, hashlib
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    h.update(d); n += len(d)
print(n, h.hexdigest(), flush=True)
`;

// Accepts one client, sends a greeting and closes.
const GREETER = `
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); c.sendall(b"hello from python\\n"); c.close()
`;

const TCP_CLIENT = `
import socket, sys
port = int(sys.argv[1])
print(0, flush=True)
c = socket.create_connection(("127.0.0.1", port), timeout=10)
c.sendall(sys.argv[2].encode())
got = b""
while len(got) < len(sys.argv[2]):
    d = c.recv(1024)
    if not d: break
    got += d
print(got.decode(), flush=True)
c.close()
`;

const UDP_RECEIVER = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
d, a = s.recvfrom(65536)
print(d.decode(), flush=True)
`;

const UDP_SENDER = `
import socket, sys
print(0, flush=True)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for m in sys.argv[2:]: s.sendto(m.encode(), ("127.0.0.1", int(sys.argv[1])))
`;

describe.skipIf(!hasPython)("mote tcp/udp tasks (--engine node) against Python peers", () => {
  test("tcp connect: stdin goes to the peer and the task exits 0 once stdin ended and all was sent", async () => {
    const peer = python(SINK);
    const port = await peer.ready;
    const io = stdio();
    const status = runTask("tcpConnect", { host: "127.0.0.1", port }, { engine: "node", stdio: io.stdio });
    const payload = Buffer.alloc(300_000, "m");
    io.stdin.write(payload.subarray(0, 100_000));
    io.stdin.write(payload.subarray(100_000));
    io.stdin.end();
    expect(await status).toBe(0);
    await until(() => peer.lines.length === 2);
    const { createHash } = await import("node:crypto");
    expect(peer.lines[1]).toBe(`300000 ${createHash("sha256").update(payload).digest("hex")}`);
  });

  test("tcp connect: what the peer sends goes to stdout and its close exits 0", async () => {
    const peer = python(GREETER);
    const port = await peer.ready;
    const io = stdio();
    const status = await runTask("tcpConnect", { host: "localhost", port }, { engine: "node", stdio: io.stdio });
    expect(status).toBe(0);
    expect(io.out()).toBe("hello from python\n");
  });

  test("tcp connect to a closed port exits 1 with one line naming refused", async () => {
    const peer = python(GREETER);
    const port = await peer.ready;
    peer.kill();
    await peer.exited;
    const io = stdio();
    const status = await runTask("tcpConnect", { host: "127.0.0.1", port }, { engine: "node", stdio: io.stdio });
    expect(status).toBe(1);
    expect(io.err()).toMatch(/^mote: refused: [^\n]*\n$/);
  });

  test("tcp connect to an invalid host exits 1 naming dns", async () => {
    const io = stdio();
    const status = await runTask("tcpConnect", { host: "no-such-host.invalid", port: 80 }, { engine: "node", stdio: io.stdio });
    expect(status).toBe(1);
    expect(io.err()).toMatch(/^mote: dns: /);
  });

  test("tcp listen --echo serves Python clients", async () => {
    const io = stdio();
    void runTask("tcpListen", { port: 0, address: "127.0.0.1", echo: true }, { engine: "node", stdio: io.stdio });
    await until(() => /listening on \d+/.test(io.err()));
    const port = Number(/listening on (\d+)/.exec(io.err())![1]);
    const a = python(TCP_CLIENT, String(port), "first client");
    const b = python(TCP_CLIENT, String(port), "second client");
    await until(() => a.lines.length === 2 && b.lines.length === 2);
    expect([a.lines[1], b.lines[1]]).toEqual(["first client", "second client"]);
  });

  test("tcp listen without --echo prints what clients send", async () => {
    const io = stdio();
    void runTask("tcpListen", { port: 0, address: "127.0.0.1" }, { engine: "node", stdio: io.stdio });
    await until(() => /listening on \d+/.test(io.err()));
    const port = Number(/listening on (\d+)/.exec(io.err())![1]);
    const c = python(
      `import socket, sys\nprint(0, flush=True)\nc = socket.create_connection(("127.0.0.1", int(sys.argv[1])))\nc.sendall(b"to stdout")\nc.close()`,
      String(port),
    );
    await c.exited;
    await until(() => io.out() === "to stdout");
  });

  test("udp send delivers one datagram to a Python receiver and exits 0", async () => {
    const peer = python(UDP_RECEIVER);
    const port = await peer.ready;
    const io = stdio();
    expect(await runTask("udpSend", { host: "127.0.0.1", port, message: "datagram!" }, { engine: "node", stdio: io.stdio })).toBe(0);
    await until(() => peer.lines.length === 2);
    expect(peer.lines[1]).toBe("datagram!");
  });

  test("udp listen prints each datagram and exits 0 after --count", async () => {
    const io = stdio();
    const status = runTask("udpListen", { port: 0, address: "127.0.0.1", count: 2 }, { engine: "node", stdio: io.stdio });
    await until(() => /listening on \d+/.test(io.err()));
    const port = Number(/listening on (\d+)/.exec(io.err())![1]);
    python(UDP_SENDER, String(port), "one", "two");
    expect(await status).toBe(0);
    expect(io.out().split("\n").filter(Boolean).sort()).toEqual(["one", "two"]);
  });

  test("bad arguments exit 1 naming invalid-argument", async () => {
    const io = stdio();
    expect(await runTask("tcpConnect", { host: "", port: 80 }, { engine: "node", stdio: io.stdio })).toBe(1);
    expect(await runTask("udpSend", { host: "127.0.0.1", port: 0, message: "x" }, { engine: "node", stdio: io.stdio })).toBe(1);
    expect(io.err().trim().split("\n")).toEqual([
      expect.stringMatching(/^mote: invalid-argument: /),
      expect.stringMatching(/^mote: invalid-argument: /),
    ]);
  });
});
