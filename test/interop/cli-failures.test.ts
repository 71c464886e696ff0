/**
 * The CLI's failure paths end to end (node bin/mote.mjs, built by the test),
 * on the node and xs engines (test/moddable/tools.test.ts runs the same cases
 * on Moddable's runtime). Issue 16, items 2, 5, 6, 7, 8, 9:
 * - a broker that hangs up before CONNACK, or before the PUBACK / PUBCOMP,
 *   ends the run with one line and status 1 (it printed nothing, exited 13 on
 *   node and hung on xs);
 * - MQTT 3.1.1 by default (mosquitto's habit); a v5 CONNECT refused by a
 *   3.1.1-only broker reads as such; a refused or downgraded SUBACK is said;
 * - `mote coap serve` keeps serving with stdin closed, fails on a busy port,
 *   and answers a Block1 upload whose reply needs Block2 (RFC 7959 §2.7);
 * - IPv6 loopback for CoAP and MQTT URLs; an ICMP port unreachable ends a
 *   CoAP request with "unreachable" instead of a timeout;
 * - every failure is one line `mote: <code>: <words>`; --help works everywhere.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startFakeBroker, type FakeBroker, type FakeBrokerMode } from "../helpers/fake-broker.js";
import { libcoapMissing, runLibcoapClient } from "../helpers/libcoap.js";

const root = join(__dirname, "..", "..");
const libcoap = libcoapMissing();

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function mote(args: string[], timeoutMs = 40_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, "bin", "mote.mjs"), ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
  });
}

/** One line, `mote: <code>: <words>`: the code said once, no operating-system names. */
function expectOneErrorLine(r: Run, code: string | RegExp, words?: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  const lines = r.stderr.split("\n");
  expect(lines, r.stderr).toHaveLength(2); // the line and the empty string after its newline
  const m = /^mote: ([a-z0-9][a-z0-9.-]*): (\S.*)$/.exec(lines[0]);
  expect(m, lines[0]).not.toBeNull();
  if (typeof code === "string") expect(m![1]).toBe(code);
  else expect(m![1]).toMatch(code);
  expect(m![2].startsWith(`${m![1]}:`), lines[0]).toBe(false);
  expect(lines[0]).not.toMatch(/\bE[A-Z]{4,}\b/);
  if (words) expect(m![2]).toMatch(words);
}

/** `mote coap serve` in the background; resolves once its banner names the port. */
function serve(args: string[]): Promise<{ child: ChildProcess; port: number; banner: string }> {
  const child = spawn(process.execPath, [join(root, "bin", "mote.mjs"), "coap", "serve", ...args], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (child.kill("SIGKILL"), reject(new Error(`no banner: ${stderr}`))), 30_000);
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on udp port (\d+)\n/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), banner: stderr });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`coap serve exited (${code}) before serving: ${stderr}`));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

let dir: string;
beforeAll(() => {
  const build = spawnSync(process.execPath, ["scripts/build.mjs", "--only=cli,tools"], { cwd: root, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`);
  dir = mkdtempSync(join(tmpdir(), "mote-cli-failures-"));
}, 120_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function withBroker<T>(mode: FakeBrokerMode, f: (b: FakeBroker) => Promise<T>, host = "127.0.0.1"): Promise<T> {
  const b = await startFakeBroker(mode, host);
  try {
    return await f(b);
  } finally {
    await b.close();
  }
}

for (const engine of ["node", "xs"]) {
  describe(`mote mqtt against a broker that misbehaves (--engine ${engine})`, () => {
    const e = ["--engine", engine];

    test("a broker that closes before CONNACK: pub and sub say so in one line, status 1", async () => {
      await withBroker("close", async (b) => {
        const pub = await mote(["mqtt", "pub", "-h", b.host, "-p", String(b.port), "-t", "t", "-m", "x", "-q", "1", ...e]);
        expectOneErrorLine(pub, /^(closed|reset)$/, /^the broker (closed|reset) the connection before CONNACK$/);
        expect(pub.code).toBe(1);
        const sub = await mote(["mqtt", "sub", "-h", b.host, "-p", String(b.port), "-t", "t", ...e]);
        expectOneErrorLine(sub, /^(closed|reset)$/, /^the broker (closed|reset) the connection before CONNACK$/);
        expect(sub.code).toBe(1);
      });
    }, 90_000);

    test("a broker that closes after CONNACK: QoS 1 names PUBACK, QoS 2 names PUBCOMP", async () => {
      await withBroker("close-after-connack", async (b) => {
        const q1 = await mote(["mqtt", "pub", "-h", b.host, "-p", String(b.port), "-t", "t", "-m", "x", "-q", "1", ...e]);
        expectOneErrorLine(q1, /^(closed|reset)$/, /^the broker (closed|reset) the connection before PUBACK$/);
        const q2 = await mote(["mqtt", "pub", "-h", b.host, "-p", String(b.port), "-t", "t", "-m", "x", "-q", "2", ...e]);
        expectOneErrorLine(q2, /^(closed|reset)$/, /^the broker (closed|reset) the connection before PUBCOMP$/);
      });
    }, 90_000);

    test("a broker that never acknowledges: pub ends after its bound with one line, status 1", async () => {
      await withBroker("no-ack", async (b) => {
        const r = await mote(["mqtt", "pub", "-h", b.host, "-p", String(b.port), "-t", "t", "-m", "x", "-q", "1", ...e], 60_000);
        expectOneErrorLine(r, "timeout", /^no PUBACK from the broker within 30 s$/);
        expect(r.code).toBe(1);
      });
    }, 90_000);

    test("MQTT 3.1.1 by default, as mosquitto_pub; -V 5 refused by a 3.1.1-only broker is said as such", async () => {
      await withBroker("v311-only", async (b) => {
        const plain = await mote(["mqtt", "pub", "-h", b.host, "-p", String(b.port), "-t", "t", "-m", "x", "-q", "1", ...e]);
        expect([plain.code, plain.stderr]).toEqual([0, ""]);
        const v5 = await mote(["mqtt", "pub", "-V", "5", "-h", b.host, "-p", String(b.port), "-t", "t", "-m", "x", ...e]);
        expectOneErrorLine(v5, "connect-refused", /^the broker does not accept MQTT 5 \(try -V 311\): unsupported protocol version \(an MQTT 3\.1\.1 CONNACK, return code 1\)$/);
        expect(v5.stderr).not.toMatch(/granted/);
      });
    }, 90_000);

    test("a SUBACK 0x80 is a refusal naming the filter; a downgraded grant is said and the run goes on", async () => {
      await withBroker("suback-refuse", async (b) => {
        const r = await mote(["mqtt", "sub", "-h", b.host, "-p", String(b.port), "-t", "a/#", ...e]);
        expectOneErrorLine(r, "subscribe-refused", /^the broker refused the subscription to "a\/#" \(SUBACK 0x80\)$/);
      });
      await withBroker("suback-downgrade", async (b) => {
        const r = await mote(["mqtt", "sub", "-h", b.host, "-p", String(b.port), "-t", "d", "-q", "2", "-C", "1", ...e]);
        expect([r.code, r.stdout.toString()]).toEqual([0, "m\n"]);
        expect(r.stderr).toBe('mote: qos-downgraded: the broker granted QoS 1 for "d", not 2\n');
      });
    }, 90_000);

    test("mqtt://[::1]:PORT/topic URLs reach a broker on the IPv6 loopback", async () => {
      await withBroker(
        "v311-only",
        async (b) => {
          const r = await mote(["mqtt", "pub", "-L", `mqtt://[::1]:${b.port}/t`, "-m", "x", "-q", "1", ...e]);
          expect([r.code, r.stderr]).toEqual([0, ""]);
        },
        "::1",
      );
    }, 60_000);
  });

  describe.skipIf(libcoap !== undefined)(`mote coap serve and CoAP failures (--engine ${engine})`, () => {
    const e = ["--engine", engine];
    let server: { child: ChildProcess; port: number; banner: string };
    beforeAll(async () => {
      server = await serve(["-p", "0", ...e]); // stdin is /dev/null: a daemon keeps serving
    }, 60_000);
    afterAll(async () => {
      if (server) await stop(server.child);
    });

    test("with stdin closed it keeps serving; its banner ends with a newline", async () => {
      expect(server.banner).toMatch(/^coap server listening on udp port \d+\n$/);
      const r = await mote(["coap", "get", `coap://127.0.0.1:${server.port}/hello`, ...e]);
      expect([r.code, r.stdout.toString(), r.stderr]).toEqual([0, "Hello from mote", ""]);
      expect(server.child.exitCode).toBeNull();
    }, 60_000);

    test("a busy port is a failure with one line, not a server without a socket", async () => {
      const r = await mote(["coap", "serve", "-p", String(server.port), ...e]);
      expectOneErrorLine(r, "address-in-use", new RegExp(`^cannot listen on udp port ${server.port}: it is in use`));
      expect(r.code).toBe(1);
    }, 60_000);

    test("a 5,000-byte PUT to /echo by Block1 comes back whole by Block2 (RFC 7959 §2.7): libcoap and mote's client", async () => {
      const body = Buffer.from(Array.from({ length: 5000 }, (_, i) => 65 + ((i * 7) % 26)));
      const file = join(dir, `echo-${engine}.txt`);
      writeFileSync(file, body);
      const out = join(dir, `echo-${engine}.out`);
      const lib = await runLibcoapClient(["-m", "put", "-f", file, "-b", "1024", "-B", "20", "-o", out, `coap://127.0.0.1:${server.port}/echo`], 30_000);
      expect(lib.code, lib.stderr).toBe(0);
      expect(readFileSync(out).equals(body)).toBe(true);
      const own = await mote(["coap", "put", `coap://127.0.0.1:${server.port}/echo`, "-f", file, "-b", "1024", ...e]);
      expect([own.code, own.stderr]).toEqual([0, ""]);
      expect(own.stdout.equals(body)).toBe(true);
    }, 90_000);

    test("coap://[::1]:PORT reaches the server over IPv6", async () => {
      const r = await mote(["coap", "get", `coap://[::1]:${server.port}/hello`, ...e]);
      expect([r.code, r.stdout.toString(), r.stderr]).toEqual([0, "Hello from mote", ""]);
    }, 60_000);

    test("4.04 is said with its reason phrase", async () => {
      const r = await mote(["coap", "get", `coap://127.0.0.1:${server.port}/nothing`, ...e]);
      expectOneErrorLine(r, "4.04", /^Not Found$/);
    }, 60_000);

    test("a closed port ends the request at the ICMP port unreachable, IPv4 and IPv6, not at the timeout", async () => {
      // a port just freed: nothing listens there; -B 30 would end it as "timeout" without the ICMP error
      const s = createSocket("udp6");
      await new Promise<void>((resolve) => s.bind(0, "::", resolve));
      const port = s.address().port;
      await new Promise<void>((resolve) => s.close(() => resolve()));
      for (const host of ["127.0.0.1", "[::1]"]) {
        const r = await mote(["coap", "get", `coap://${host}:${port}/x`, "-B", "30", ...e]);
        expectOneErrorLine(r, "unreachable", new RegExp(`^nothing listens on udp ${host.replace(/[[\].]/g, "\\$&")}:${port} \\(ICMP\\)$`));
      }
    }, 90_000);
  });
}

describe("every failure path of the CLI prints one line `mote: <code>: <words>`", () => {
  test("usage, refused, unreachable, missing file, busy port", async () => {
    const tcpPort = await new Promise<number>((resolve) => {
      const s = createSocket("udp4");
      s.bind(0, "127.0.0.1", () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    const busy = createSocket("udp4");
    await new Promise<void>((resolve) => busy.bind(0, "127.0.0.1", resolve));
    try {
      const cases: [string[], string, RegExp?][] = [
        [["mqtt", "pub", "-t", "x"], "usage"],
        [["mqtt", "frob"], "usage"],
        [["coap", "get"], "usage"],
        [["tcp", "connect", "127.0.0.1", "99999"], "usage"],
        [["nothing"], "usage"],
        [["mqtt", "pub", "-h", "127.0.0.1", "-p", "1", "-t", "x", "-m", "y"], "refused", /^the connection to 127\.0\.0\.1:1 was refused/],
        [["tcp", "connect", "127.0.0.1", "1"], "refused"],
        [["coap", "put", `coap://127.0.0.1:${tcpPort}/x`, "-f", join(dir ?? tmpdir(), "no-such-file.bin")], "no-such-file", /no such file or directory/],
        [["udp", "listen", String(busy.address().port)], "address-in-use", /^udp port \d+ is already in use$/],
        [["ota", "verify", join(tmpdir(), "no-such-descriptor.json"), "--key", join(tmpdir(), "no-such-key.pem")], /^(not-found|usage|no-such-file)$/ as unknown as string],
      ];
      for (const [args, code, words] of cases) {
        const r = await mote(args);
        expectOneErrorLine(r, code as string | RegExp, words);
      }
    } finally {
      busy.close();
    }
  }, 120_000);

  test("--help is accepted by every command and subcommand: usage on stdout, status 0", async () => {
    for (const args of [["--help"], ["tcp", "--help"], ["tcp", "listen", "--help"], ["udp", "--help"], ["mqtt", "--help"], ["mqtt", "pub", "--help"], ["coap", "--help"], ["coap", "serve", "--help"], ["ota", "--help"], ["sim", "--help"]]) {
      const r = await mote(args);
      expect([args.join(" "), r.code, r.stderr]).toEqual([args.join(" "), 0, ""]);
      expect(r.stdout.toString(), args.join(" ")).toMatch(/usage|mote sim/);
    }
  }, 120_000);
});
