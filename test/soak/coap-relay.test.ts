/**
 * CoAP over real sockets through a lossy UDP relay: mote's CoapClient
 * (Node mode, src/platform over the Node twins) → the simulator's
 * UdpFaultProxy dropping 30% of datagrams each way → a node-coap server (an
 * independent peer). The message layer runs with a short ACK_TIMEOUT (100 ms,
 * an option of the client) so the retransmissions of RFC 7252 §4.2 happen in
 * seconds; the long version of the same check runs in simulated time
 * (soak/coap-loss.ts).
 */
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { UdpFaultProxy } from "../../host-shim/sim/faults.js";
import { CoapClient, CoapRequestError, type ObserveHandle } from "../../src/coap/client.js";
import { freeUdpPort, testHost } from "../helpers/libcoap.js";
import { seededRandom as mulberry } from "../../src/util/prng.js";

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const coap = require("coap") as typeof import("coap");


let server: ReturnType<typeof coap.createServer>;
let relay: UdpFaultProxy;
let client: CoapClient;
let stopNotify: (() => void) | undefined;

beforeAll(async () => {
  const port = await freeUdpPort();
  server = coap.createServer((req, res) => {
    if (req.url === "/obs" && req.headers.Observe === 0) {
      let n = 0;
      res.write(`n${n}`);
      const t = setInterval(() => res.write(`n${++n}`), 50);
      stopNotify = () => clearInterval(t);
      res.on("finish", () => clearInterval(t));
      return;
    }
    res.end(req.url);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  relay = new UdpFaultProxy({ targetHost: "127.0.0.1", targetPort: port, random: mulberry(5) });
  await relay.listen();
  client = new CoapClient({ host: await testHost(), ackTimeoutMs: 100, maxRetransmit: 4 });
});

afterAll(async () => {
  stopNotify?.();
  client?.close();
  await relay?.close();
  await new Promise<void>((r) => server.close(() => r()));
});

describe("CoAP through a 30%-loss UDP relay (real sockets)", () => {
  test("every CON request completes (retried by the app after MAX_RETRANSMIT); observe notifications arrive in order, no duplicates", async () => {
    relay.loss = 0.3;
    const seen: number[] = [];
    const observe: ObserveHandle = client.observe(`coap://127.0.0.1:${relay.port}/obs`, (r) => {
      const m = /^n(\d+)$/.exec(r.text());
      if (m) seen.push(Number(m[1]));
    });
    let retries = 0;
    const N = 40;
    for (let i = 0; i < N; i++) {
      for (let attempt = 1; ; attempt++) {
        try {
          const r = await client.get(`coap://127.0.0.1:${relay.port}/r/${i}`);
          expect(r.text()).toBe(`/r/${i}`);
          break;
        } catch (e) {
          expect(e).toBeInstanceOf(CoapRequestError);
          expect((e as CoapRequestError).code).toBe("timeout");
          expect(attempt).toBeLessThan(6); // p(5 failed exchanges in a row) ≈ 0.035^5
          retries++;
        }
      }
    }
    relay.loss = 0;
    await observe.cancel();
    expect(seen.length).toBeGreaterThan(10);
    for (let k = 1; k < seen.length; k++) expect(seen[k], `notification ${k}: ${seen.slice(Math.max(0, k - 3), k + 2)}`).toBeGreaterThan(seen[k - 1]);
    expect(retries).toBeLessThan(N / 2);
  }, 60_000);
});
