import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createSocket, type Socket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoapClient } from "../../src/coap/client.js";
import { CoapServer } from "../../src/coap/server.js";
import { freeUdpPort, libcoapMissing, runLibcoapClient, startLibcoapServer, testHost, type LibcoapServer } from "../helpers/libcoap.js";

const missing = libcoapMissing();

function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let s = seed;
  for (let i = 0; i < size; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = s >> 16;
  }
  return out;
}

describe.skipIf(missing !== undefined)("mote client against libcoap coap-server", () => {
  let server: LibcoapServer;
  let client: CoapClient;
  beforeAll(async () => {
    server = await startLibcoapServer();
    client = new CoapClient({ host: await testHost() });
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  test("GET /time returns 2.05 with the server's clock as text", async () => {
    const r = await client.get(`${server.url}/time`);
    expect(r.codeText).toBe("2.05");
    expect(r.text()).toMatch(/\d\d:\d\d:\d\d/);
    expect((await client.get(`${server.url}/no-such-thing`)).codeText).toBe("4.04");
  });

  test("discovery parses /.well-known/core into typed links", async () => {
    const links = await client.discover(server.url);
    const time = links.find((l) => l.href === "/time");
    expect(time).toMatchObject({ rt: ["ticks"], if: ["clock"], obs: true, title: "Internal Clock", ct: [0] });
  });

  test("observe /time delivers fresh notifications in order, then cancel deregisters", async () => {
    const seqs: number[] = [];
    const texts: string[] = [];
    let reached: () => void = () => undefined;
    const three = new Promise<void>((r) => (reached = r));
    const h = client.observe(`${server.url}/time`, (n) => {
      seqs.push(n.observe!);
      texts.push(n.text());
      if (seqs.length === 3) reached();
    });
    await three;
    await h.cancel();
    expect(await h.ended).toBeUndefined();
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]);
    expect(new Set(texts).size).toBe(texts.length);
  }, 15_000);

  test("a 120 KB body goes up with Block1 and comes back with Block2, byte for byte", async () => {
    const body = pattern(120_000, 7);
    const put = await client.upload(`${server.url}/mote-big`, body);
    expect(put.codeText).toMatch(/^2\.0[14]$/);
    let offset = 0;
    let mismatches = 0;
    let largest = 0;
    const r = await client.download(`${server.url}/mote-big`, (data, at) => {
      if (at !== offset) mismatches++;
      for (let i = 0; i < data.length; i++) if (data[i] !== body[at + i]) mismatches++;
      offset += data.length;
      largest = Math.max(largest, data.length);
    });
    expect(r.ok).toBe(true);
    expect(offset).toBe(body.length);
    expect(mismatches).toBe(0);
    expect(largest).toBeLessThanOrEqual(1024);
    // Smaller blocks on request (early negotiation).
    let small = 0;
    let count = 0;
    await client.download(`${server.url}/mote-big`, (d) => ((small = Math.max(small, d.length)), count++), { blockSize: 256 });
    expect(small).toBe(256);
    expect(count).toBe(Math.ceil(body.length / 256));
  }, 20_000);

  test("a 30% lossy path (seeded, both ways): every CON request completes, none is delivered twice", async () => {
    const relay = await lossyRelay(server.port, 0.3, 99);
    const lossy = new CoapClient({ host: await testHost(), ackTimeoutMs: 40, ackRandomFactor: 1.5, maxRetransmit: 12 });
    try {
      const answers: string[] = [];
      for (let i = 0; i < 12; i++) {
        const r = await lossy.put(`coap://127.0.0.1:${relay.port}/lossy`, `v${i}`);
        expect(r.ok).toBe(true);
        // A late duplicate of an older response would show an older value here.
        answers.push((await lossy.get(`coap://127.0.0.1:${relay.port}/lossy`)).text());
      }
      expect(answers).toEqual(Array.from({ length: 12 }, (_, i) => `v${i}`));
      expect(relay.dropped()).toBeGreaterThan(0);
      expect(relay.forwardedUp()).toBeGreaterThan(24); // requests were retransmitted
    } finally {
      lossy.close();
      relay.close();
    }
  }, 30_000);
});

describe.skipIf(missing !== undefined)("libcoap coap-client against the mote server", () => {
  let server: CoapServer;
  let port: number;
  let tick = 0;
  let timer: NodeJS.Timeout;
  const big = pattern(20_000, 3);
  let stored = new Uint8Array(0);
  beforeAll(async () => {
    port = await freeUdpPort();
    server = new CoapServer({ host: await testHost(), port, address: "127.0.0.1" });
    server
      .add({ path: "/hello", rt: ["greeting"], ct: [0], handlers: { GET: () => ({ payload: "hello from mote", contentFormat: 0 }) } })
      .add({ path: "/tick", observable: true, handlers: { GET: () => ({ payload: `tick ${tick}` }) } })
      .add({ path: "/big", handlers: { GET: () => ({ payload: big, contentFormat: 42 }) } })
      .add({ path: "/echo", handlers: { POST: (r) => ({ payload: r.payload }) } })
      .add({
        path: "/store",
        handlers: {
          PUT: (r) => ((stored = r.payload.slice()), { code: 2 << 5 | 4 }),
          GET: () => ({ payload: stored, contentFormat: 42 }),
        },
      });
    timer = setInterval(() => {
      tick++;
      server.notify("/tick");
    }, 300);
    await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(() => {
    clearInterval(timer);
    server?.close();
  });

  test("GET and POST", async () => {
    const r = await runLibcoapClient(["-m", "get", "-B", "5", `coap://127.0.0.1:${port}/hello`]);
    expect(r.stdout.trim()).toBe("hello from mote");
    const e = await runLibcoapClient(["-m", "post", "-e", "ping", "-B", "5", `coap://127.0.0.1:${port}/echo`]);
    expect(e.stdout.trim()).toBe("ping");
  });

  test("discovery lists our resources", async () => {
    const r = await runLibcoapClient(["-m", "get", "-B", "5", `coap://127.0.0.1:${port}/.well-known/core`]);
    expect(r.stdout).toContain('</hello>;rt="greeting";ct=0');
    expect(r.stdout).toContain("</tick>;obs");
  });

  test("observe: libcoap receives several notifications, in order", async () => {
    const r = await runLibcoapClient(["-m", "get", "-s", "2", "-B", "4", "-w", `coap://127.0.0.1:${port}/tick`]);
    const ticks = r.stdout
      .split("\n")
      .filter((l) => l.startsWith("tick"))
      .map((l) => Number(l.slice(5)));
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]).toBeGreaterThan(ticks[i - 1]);
  }, 10_000);

  test("libcoap uploads 12 KB with Block1 (-b 256) and reads it back with Block2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mote-coap-"));
    try {
      const src = join(dir, "up.bin");
      const out = join(dir, "down.bin");
      const body = pattern(12_000, 11);
      writeFileSync(src, body);
      const put = await runLibcoapClient(["-m", "put", "-b", "256", "-f", src, "-B", "10", `coap://127.0.0.1:${port}/store`]);
      expect(put.code).toBe(0);
      expect(Buffer.from(stored).equals(Buffer.from(body))).toBe(true);
      await runLibcoapClient(["-m", "get", "-B", "10", "-o", out, `coap://127.0.0.1:${port}/store`]);
      expect(readFileSync(out).equals(Buffer.from(body))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a 20 KB representation is fetched with Block2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mote-coap-"));
    try {
      const out = join(dir, "big.bin");
      const r = await runLibcoapClient(["-m", "get", "-B", "10", "-o", out, `coap://127.0.0.1:${port}/big`]);
      expect(r.code).toBe(0);
      expect(Buffer.from(readFileSync(out)).equals(Buffer.from(big))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("mote client and mote server through a 30% lossy UDP relay (seeded, both ways)", () => {
  test("every CON POST completes and reaches the handler exactly once", async () => {
    const port = await freeUdpPort();
    const server = new CoapServer({ host: await testHost(), port, address: "127.0.0.1", ackTimeoutMs: 40, maxRetransmit: 12 });
    let calls = 0;
    server.add({ path: "/count", handlers: { POST: () => ({ payload: String(++calls) }) } });
    const relay = await lossyRelay(port, 0.3, 4242);
    const client = new CoapClient({ host: await testHost(), ackTimeoutMs: 40, maxRetransmit: 12 });
    try {
      const answers: string[] = [];
      for (let i = 0; i < 12; i++) answers.push((await client.post(`coap://127.0.0.1:${relay.port}/count`, "+1")).text());
      expect(answers).toEqual(Array.from({ length: 12 }, (_, i) => String(i + 1)));
      expect(calls).toBe(12);
      expect(relay.dropped()).toBeGreaterThan(0);
    } finally {
      client.close();
      relay.close();
      server.close();
    }
  }, 30_000);
});

/** A UDP relay on 127.0.0.1 that drops a seeded share of datagrams in both directions. */
async function lossyRelay(targetPort: number, loss: number, seed: number): Promise<{ port: number; dropped(): number; forwardedUp(): number; close(): void }> {
  let s = seed;
  const rand = () => ((s = (s * 48271) % 2147483647) / 2147483647);
  let dropped = 0;
  let up = 0;
  const front: Socket = createSocket("udp4");
  const back: Socket = createSocket("udp4");
  let clientAddr: { address: string; port: number } | undefined;
  front.on("message", (msg, rinfo) => {
    clientAddr = { address: rinfo.address, port: rinfo.port };
    up++;
    if (rand() < loss) return void dropped++;
    back.send(msg, targetPort, "127.0.0.1");
  });
  back.on("message", (msg) => {
    if (clientAddr === undefined) return;
    if (rand() < loss) return void dropped++;
    front.send(msg, clientAddr.port, clientAddr.address);
  });
  await new Promise<void>((r) => front.bind(0, "127.0.0.1", () => r()));
  await new Promise<void>((r) => back.bind(0, "127.0.0.1", () => r()));
  return {
    port: front.address().port,
    dropped: () => dropped,
    forwardedUp: () => up,
    close: () => {
      front.close();
      back.close();
    },
  };
}
