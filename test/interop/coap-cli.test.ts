import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeUdpPort, libcoapMissing, runLibcoapClient, startLibcoapServer, type LibcoapServer } from "../helpers/libcoap.js";

const missing = libcoapMissing();

function mote(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/mote.mjs", "coap", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(missing !== undefined)("mote coap (the CLI, libcoap coap-client flags) against libcoap's server", () => {
  let server: LibcoapServer;
  let dir: string;
  beforeAll(async () => {
    const build = spawnSync(process.execPath, ["scripts/build.mjs", "--only=cli,tools"], { encoding: "utf8" });
    if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`);
    server = await startLibcoapServer();
    dir = mkdtempSync(join(tmpdir(), "mote-coap-cli-"));
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("get prints the payload and exits 0; a 4.04 exits 1 with one line naming it", async () => {
    const r = await mote(["get", `${server.url}/time`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\d\d:\d\d:\d\d/);
    const nf = await mote(["get", `${server.url}/nothing-here`]);
    expect(nf.code).toBe(1);
    expect(nf.stderr.trim()).toBe("mote: 4.04: Not Found");
  });

  test("put -f FILE -b 512 then get -o FILE moves 40 KB both ways block-wise", async () => {
    const src = join(dir, "in.bin");
    const out = join(dir, "out.bin");
    const body = Buffer.from(new Uint8Array(40_000).map((_, i) => (i * 13) & 0xff));
    writeFileSync(src, body);
    const put = await mote(["put", `${server.url}/cli-file`, "-f", src, "-b", "512", "-t", "octet"]);
    expect(put.code).toBe(0);
    const get = await mote([`${server.url}/cli-file`, "-m", "get", "-o", out]);
    expect(get.code).toBe(0);
    expect(readFileSync(out).equals(body)).toBe(true);
  });

  test("-s observes for that many seconds, one notification per line", async () => {
    const r = await mote([`${server.url}/time`, "-s", "2"], 15_000);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(new Set(lines).size).toBe(lines.length);
  });

  test("discover prints one link per line", async () => {
    const r = await mote(["discover", server.url]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")).toContain('</time>;rt="ticks";if="clock";ct=0;title="Internal Clock";obs');
  });

  test("-B SECONDS bounds the wait: a socket that never answers, exit 1 with timeout", async () => {
    // bound, so no ICMP port unreachable comes back: only the timeout can end the wait
    const silent = createSocket("udp4");
    await new Promise<void>((resolve) => silent.bind(0, "127.0.0.1", resolve));
    try {
      const r = await mote(["get", `coap://127.0.0.1:${silent.address().port}/x`, "-B", "1"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^mote: timeout: no response from coap:\/\/127\.0\.0\.1:\d+\/x within 1 s\n$/);
    } finally {
      silent.close();
    }
  });

  test("--engine xs runs the same task inside XS", async () => {
    const r = await mote(["get", `${server.url}/time`, "--engine", "xs", "-N"], 30_000);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\d\d:\d\d:\d\d/);
  }, 40_000);

  test("serve answers libcoap's client with the demo resources", async () => {
    const port = await freeUdpPort();
    const child = spawn(process.execPath, ["bin/mote.mjs", "coap", "serve", "-p", String(port), "-s", "6"], { stdio: ["pipe", "ignore", "pipe"] });
    try {
      let hello = "";
      for (let i = 0; i < 40 && hello !== "Hello from mote"; i++) {
        hello = (await runLibcoapClient(["-m", "get", "-B", "1", "-v", "0", `coap://127.0.0.1:${port}/hello`])).stdout.trim();
      }
      expect(hello).toBe("Hello from mote");
      const out = join(dir, "served-big.bin");
      await runLibcoapClient(["-m", "get", "-B", "5", "-o", out, `coap://127.0.0.1:${port}/big`]);
      const big = readFileSync(out);
      expect(big.length).toBe(65536);
      expect(big.every((b, i) => b === (i & 0xff))).toBe(true);
      const wk = await runLibcoapClient(["-m", "get", "-B", "5", `coap://127.0.0.1:${port}/.well-known/core`]);
      expect(wk.stdout).toContain("</time>");
    } finally {
      child.kill("SIGTERM");
    }
  }, 30_000);
});
