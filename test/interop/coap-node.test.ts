import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createRequire } from "node:module";
import { CoapClient } from "../../src/coap/client.js";
import { CoapServer } from "../../src/coap/server.js";
import { freeUdpPort, testHost } from "../helpers/libcoap.js";

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const coap = require("coap") as typeof import("coap");

function pattern(size: number): Uint8Array {
  return new Uint8Array(size).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
}

describe("mote client against a node-coap server", () => {
  let server: ReturnType<typeof coap.createServer>;
  let port: number;
  let client: CoapClient;
  const big = Buffer.from(pattern(5000));
  beforeAll(async () => {
    port = await freeUdpPort();
    server = coap.createServer((req, res) => {
      if (req.url === "/big") return void res.end(big);
      if (req.url === "/obs" && req.headers.Observe === 0) {
        let n = 0;
        res.write("n0");
        const t = setInterval(() => {
          res.write(`n${++n}`);
          if (n === 3) {
            clearInterval(t);
            res.end();
          }
        }, 100);
        res.on("finish", () => clearInterval(t));
        return;
      }
      res.setOption("Content-Format", "text/plain");
      res.end(`${req.method} ${req.url} ${req.payload.toString()}`);
    });
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    client = new CoapClient({ host: await testHost() });
  });
  afterAll(async () => {
    client?.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test("GET and POST with payload", async () => {
    const g = await client.get(`coap://127.0.0.1:${port}/a/b?x=1`);
    expect(g.text()).toBe("GET /a/b?x=1 ");
    expect(g.contentFormat).toBe(0);
    const p = await client.post(`coap://127.0.0.1:${port}/p`, "body");
    expect(p.text()).toBe("POST /p body");
    const n = await client.request(`coap://127.0.0.1:${port}/non`, { method: "PUT", payload: "x", confirmable: false });
    expect(n.text()).toBe("PUT /non x");
  });

  test("observe receives the notifications in order", async () => {
    const seen: string[] = [];
    let done: () => void = () => undefined;
    const all = new Promise<void>((r) => (done = r));
    const h = client.observe(`coap://127.0.0.1:${port}/obs`, (n) => {
      seen.push(n.text());
      if (seen.length === 4) done();
    });
    await all;
    await h.cancel();
    expect(seen).toEqual(["n0", "n1", "n2", "n3"]);
  });

  test("a 5000-byte body arrives block by block (Block2)", async () => {
    let total = 0;
    let blocks = 0;
    let bad = 0;
    await client.download(`coap://127.0.0.1:${port}/big`, (d, off) => {
      for (let i = 0; i < d.length; i++) if (d[i] !== big[off + i]) bad++;
      total += d.length;
      blocks++;
    });
    expect(total).toBe(5000);
    expect(blocks).toBeGreaterThan(1);
    expect(bad).toBe(0);
  });
});

describe("node-coap client against the mote server", () => {
  let server: CoapServer;
  let port: number;
  let tick = 0;
  let timer: NodeJS.Timeout;
  const big = pattern(10_000);
  const agent = () => new coap.Agent({ type: "udp4" });
  beforeAll(async () => {
    port = await freeUdpPort();
    server = new CoapServer({ host: await testHost(), port, address: "127.0.0.1" });
    server
      .add({ path: "/hello", handlers: { GET: () => ({ payload: "hello", contentFormat: 0 }) } })
      .add({ path: "/tick", observable: true, handlers: { GET: () => ({ payload: `t${tick}` }) } })
      .add({ path: "/big", handlers: { GET: () => ({ payload: big }) } });
    timer = setInterval(() => {
      tick++;
      server.notify("/tick");
    }, 100);
    await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(() => {
    clearInterval(timer);
    server?.close();
  });

  function nodeGet(path: string, extra: Record<string, unknown> = {}): Promise<{ code: string; payload: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = coap.request({ hostname: "127.0.0.1", port, pathname: path, agent: agent(), ...extra });
      req.on("response", (res) => resolve({ code: res.code, payload: res.payload }));
      req.on("error", reject);
      req.end();
    });
  }

  test("GET /hello", async () => {
    const r = await nodeGet("/hello");
    expect(r.code).toBe("2.05");
    expect(r.payload.toString()).toBe("hello");
  });

  test("GET of a 10 KB representation is reassembled from our Block2 responses", async () => {
    const r = await nodeGet("/big");
    expect(Buffer.from(big).equals(r.payload)).toBe(true);
  });

  test("observe /tick gets increasing notifications", async () => {
    const values = await new Promise<number[]>((resolve, reject) => {
      const got: number[] = [];
      const req = coap.request({ hostname: "127.0.0.1", port, pathname: "/tick", observe: true, agent: agent() });
      req.on("response", (res) => {
        res.on("data", (d: Buffer) => {
          got.push(Number(d.toString().slice(1)));
          if (got.length === 4) {
            res.close();
            resolve(got);
          }
        });
      });
      req.on("error", reject);
      req.end();
    });
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]);
  });
});
