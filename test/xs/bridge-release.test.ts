/**
 * The bridge lets go of host objects that ended: the regression test of the
 * chaos soak's heap growth (~900 XS slots per dropped link, test/soak/chaos.test.ts).
 * - A TCP socket that fails and is closed in its onError: its Node twin is
 *   closed (it was left open: host-shim/xs/stream-socket.ts dropped the twin
 *   before the application's close() could reach it).
 * - A host object closed while one of its callbacks names it (a WiFi station's
 *   onChanged does): its callbacks are released at close (they were kept for
 *   as long as the proxy lived, and the callback kept the proxy alive).
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bundleForXs, startXs, type XsEngine } from "../../host-shim/xs/engine.js";

let xs: XsEngine;
beforeAll(async () => {
  xs = await startXs({ bundle: await bundleForXs("test/xs/bridge-release-entry.ts"), stdio: "ignore" });
});
afterAll(async () => {
  await xs?.close();
});

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

type Tables = { proxies: number; callbacks: number; owned: number; finished: number; collected: number };

describe("the bridge releases host objects that ended", () => {
  test("50 refused connects closed in onError: no twin stays open, no callback stays in XS, the heap is flat", async () => {
    const port = await closedPort();
    // one round first, so the module stubs and shapes exist before the baseline
    await xs.call("refusedConnects", { port, times: 1 });
    const heap0 = (await xs.meters()).heapBytes;
    const open0 = xs.stats().open;
    const t0 = (await xs.call("bridgeTables")) as Tables;
    const r = (await xs.call("refusedConnects", { port, times: 50 })) as { errors: number };
    expect(r.errors).toBe(50);
    const heap1 = (await xs.meters()).heapBytes;
    const t1 = (await xs.call("bridgeTables")) as Tables;
    expect(xs.stats().open).toBe(open0);
    expect(t1.callbacks).toBe(t0.callbacks);
    expect(t1.owned).toBe(t0.owned);
    // was ~300 slots (9.6 KB) a socket before the fix; 1 KB for all 50 is noise
    expect(heap1 - heap0).toBeLessThan(1024);
  });

  test("200 sockets closed while their callback names them: their callbacks are gone at close", async () => {
    await xs.call("selfNamingSockets", { times: 1 });
    await xs.meters();
    const t0 = (await xs.call("bridgeTables")) as Tables;
    const heap0 = (await xs.meters()).heapBytes;
    expect(await xs.call("selfNamingSockets", { times: 200 })).toBe(200);
    const heap1 = (await xs.meters()).heapBytes;
    const t1 = (await xs.call("bridgeTables")) as Tables;
    expect(t1.callbacks).toBe(t0.callbacks);
    expect(t1.owned).toBe(t0.owned);
    expect(t1.finished).toBe(t0.finished);
    expect(t1.proxies).toBeLessThanOrEqual(t0.proxies);
    expect(heap1 - heap0).toBeLessThan(1024);
  });
});
