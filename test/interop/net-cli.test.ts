/**
 * The CLI tasks tcpConnect / tcpListen / udpListen / udpSend (cli/tasks/tcp.ts,
 * cli/tasks/udp.ts) run by cli/engine.ts with --engine node, against Python
 * peers on 127.0.0.1. Without python3: fail when CI is set, else skip.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
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
const children: { kill(): void }[] = [];

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
  const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  return { lines, exited, kill: () => child.kill(), ready: until(() => lines.length > 0).then(() => Number(lines[0])) };
}

afterEach(() => closeAllHandles());
afterAll(() => {
  for (const c of children) c.kill();
});

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
import { run } from "../helpers/run.js";

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

/** Latest modification time of the files under `dir` the CLI bundles are built from. */
function latestSource(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? latestSource(path) : statSync(path).mtimeMs);
  }
  return latest;
}

// The real CLI runs the bundles in dist/: rebuild them when src/, cli/ or host-shim/ changed since.
beforeAll(async () => {
  const bundles = ["dist/node/cli.mjs", "dist/sim/tools.js"];
  const sources = Math.max(...["src", "cli", "host-shim"].map(latestSource));
  if (bundles.every((b) => existsSync(b) && statSync(b).mtimeMs >= sources)) return;
  const built = await run(process.execPath, ["scripts/build.mjs", "--only=tools,cli"], { timeoutMs: 120_000 });
  if (built.status !== 0) throw new Error(`npm run build failed: ${built.stderr || built.stdout}`);
}, 120_000);

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The real CLI (node bin/mote.mjs; needs `npm run build`), killed after `timeoutMs`. */
function mote(args: string[], stdin?: Buffer | "keep-open", timeoutMs = 30_000) {
  const child = spawn(process.execPath, ["bin/mote.mjs", ...args], { stdio: ["pipe", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += String(d)));
  child.stderr.on("data", (d) => (stderr += String(d)));
  if (stdin instanceof Buffer) child.stdin.end(stdin);
  else if (stdin === undefined) child.stdin.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<CliRun>((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { done, stderr: () => stderr, kill: () => child.kill("SIGKILL") };
}

describe.skipIf(!hasPython).each(["node", "xs"])("the mote CLI with --engine %s against Python peers", (engine) => {
  test("tcp connect sends stdin to a Python server and exits 0", async () => {
    const peer = python(SINK);
    const port = await peer.ready;
    const payload = Buffer.alloc(100_000, "q");
    const run = await mote(["tcp", "connect", "127.0.0.1", String(port), "--engine", engine], payload).done;
    expect([run.code, run.stderr]).toEqual([0, ""]);
    await until(() => peer.lines.length === 2);
    const { createHash } = await import("node:crypto");
    expect(peer.lines[1]).toBe(`100000 ${createHash("sha256").update(payload).digest("hex")}`);
  });

  test("tcp connect prints what a Python server sends", async () => {
    const peer = python(GREETER);
    const port = await peer.ready;
    const run = await mote(["tcp", "connect", "127.0.0.1", String(port), "--engine", engine], "keep-open").done;
    expect([run.code, run.stdout]).toEqual([0, "hello from python\n"]);
  });

  test("tcp connect to a closed port exits 1 with one line naming refused", async () => {
    const peer = python(GREETER);
    const port = await peer.ready;
    peer.kill();
    await peer.exited;
    const run = await mote(["tcp", "connect", "127.0.0.1", String(port), "--engine", engine]).done;
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^mote: refused: [^\n]*\n$/);
  });

  test("tcp listen --echo answers a Python client", async () => {
    const server = mote(["tcp", "listen", "0", "--address", "127.0.0.1", "--echo", "--engine", engine], "keep-open");
    try {
      await until(() => /listening on \d+/.test(server.stderr()), 20_000);
      const port = Number(/listening on (\d+)/.exec(server.stderr())![1]);
      const client = python(TCP_CLIENT, String(port), `echo via ${engine}`);
      await until(() => client.lines.length === 2);
      expect(client.lines[1]).toBe(`echo via ${engine}`);
    } finally {
      server.kill();
    }
  });

  test("udp send reaches a Python receiver; udp listen prints Python's datagrams", async () => {
    const receiver = python(UDP_RECEIVER);
    const port = await receiver.ready;
    const sent = await mote(["udp", "send", "127.0.0.1", String(port), `hi from ${engine}`, "--engine", engine]).done;
    expect([sent.code, sent.stderr]).toEqual([0, ""]);
    await until(() => receiver.lines.length === 2);
    expect(receiver.lines[1]).toBe(`hi from ${engine}`);

    const listener = mote(["udp", "listen", "0", "--address", "127.0.0.1", "--count", "1", "--engine", engine], "keep-open");
    await until(() => /listening on \d+/.test(listener.stderr()), 20_000);
    const listenPort = Number(/listening on (\d+)/.exec(listener.stderr())![1]);
    python(UDP_SENDER, String(listenPort), "from python");
    const run = await listener.done;
    expect([run.code, run.stdout]).toEqual([0, "from python\n"]);
  });
});
