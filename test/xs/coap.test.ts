import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createRequire } from "node:module";
import { bundleForXs, startXs, type XsEngine } from "../../host-shim/xs/engine.js";
import { freeUdpPort } from "../helpers/libcoap.js";

const require = createRequire(import.meta.url);
const coap = require("coap") as typeof import("coap");

function pattern(size: number): Buffer {
  return Buffer.from(new Uint8Array(size).map((_, i) => (i * 7 + (i >> 8)) & 0xff));
}

describe("the mote CoAP client inside XS against a node-coap server", () => {
  let xs: XsEngine;
  let server: ReturnType<typeof coap.createServer>;
  let port: number;
  const big = pattern(64 * 1024);
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
      res.end(`hello ${req.url}`);
    });
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    xs = await startXs({ bundle: await bundleForXs("test/xs/coap-entry.ts"), name: "coap" });
  }, 60_000);
  afterAll(async () => {
    await xs?.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test("get", async () => {
    expect(await xs.call("coapGet", { url: `coap://127.0.0.1:${port}/x` })).toEqual({ code: "2.05", text: "hello /x", contentFormat: 0 });
    expect(await xs.call("coapGet", { url: `coap://127.0.0.1:${port}/y`, confirmable: false })).toMatchObject({ text: "hello /y" });
  });

  test("observe", async () => {
    expect(await xs.call("coapObserve", { url: `coap://127.0.0.1:${port}/obs`, count: 4 })).toEqual(["n0", "n1", "n2", "n3"]);
  });

  test("a 64 KiB block-wise download, checked byte by byte, with the XS heap staying small", async () => {
    const url = `coap://127.0.0.1:${port}/big`;
    const r = (await xs.call("coapDownload", { url, check: true })) as Record<string, number | string>;
    expect(r).toMatchObject({ code: "2.05", bytes: big.length, bad: 0 });
    expect(r.blocks).toBe(64);
    // On one client, after a first transfer, three more keep nothing of the body:
    // the XS heap grows by less than one block's worth of slots per transfer.
    await xs.call("coapDownloadKept", { url });
    const warm = await xs.meters();
    for (let i = 0; i < 3; i++) expect(await xs.call("coapDownloadKept", { url })).toEqual({ code: "2.05", bytes: big.length });
    const after = await xs.meters();
    expect(after.heapBytes - warm.heapBytes).toBeLessThan(3 * 1024);
    await xs.call("coapDownloadKept", { url, close: true });
  }, 30_000);
});
