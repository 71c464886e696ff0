/**
 * RFC 7959 §2.7: a Block1 upload whose response needs Block2. The server runs
 * the handler once, on the whole body, and serves the follow-up body-less
 * Block2 requests from the kept result (it ran the handler again on an empty
 * body and answered "block out of range"). Kept results are bounded.
 */
import { describe, expect, test } from "vitest";
import { CoapClient } from "../../src/coap/client.js";
import { CoapServer } from "../../src/coap/server.js";
import { FakeNet } from "./coap-fake-net.js";

const body = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * seed + 3) & 0xff);

describe("a server answering a Block1 upload with a Block2 body", () => {
  test("the handler runs once per upload and the whole reply comes back (POST and PUT)", async () => {
    const net = new FakeNet();
    const server = new CoapServer({ host: net.host("10.0.0.1"), port: 5683 });
    const client = new CoapClient({ host: net.host("10.0.0.2") });
    const calls: number[] = [];
    server.add({
      path: "/echo",
      handlers: {
        POST: (r) => (calls.push(r.payload.length), { payload: r.payload }),
        PUT: (r) => (calls.push(r.payload.length), { payload: r.payload }),
      },
    });
    for (const method of ["POST", "PUT"] as const) {
      const sent = body(5000, method === "POST" ? 7 : 11);
      const r = await net.run(client.request("coap://10.0.0.1/echo", { method, payload: sent, blockSize: 1024 }));
      expect(r.codeText).toBe("2.04");
      expect(r.payload).toEqual(sent);
    }
    expect(calls).toEqual([5000, 5000]);
  });

  test("a non-idempotent POST is not repeated by the follow-ups: a counter moves once per request", async () => {
    const net = new FakeNet();
    const server = new CoapServer({ host: net.host("10.0.0.1"), port: 5683, blockSize: 64 });
    const client = new CoapClient({ host: net.host("10.0.0.2") });
    let counter = 0;
    server.add({ path: "/count", handlers: { POST: () => ({ payload: `${++counter}:`.padEnd(300, "x") }) } });
    const first = await net.run(client.post("coap://10.0.0.1/count", "a"));
    const second = await net.run(client.post("coap://10.0.0.1/count", "b"));
    expect([first.text().slice(0, 2), second.text().slice(0, 2), first.payload.length, counter]).toEqual(["1:", "2:", 300, 2]);
  });

  test("results are kept for at most maxUploads clients; an evicted one's follow-up gets 4.08, never the handler again", async () => {
    const net = new FakeNet();
    const server = new CoapServer({ host: net.host("10.0.0.1"), port: 5683, maxUploads: 1, blockSize: 64 });
    const a = new CoapClient({ host: net.host("10.0.0.2") });
    const b = new CoapClient({ host: net.host("10.0.0.3") });
    let runs = 0;
    server.add({ path: "/big", handlers: { POST: () => (runs++, { payload: body(640, 5) }) } });
    // a and b interleave: b's result evicts a's (bound 1)
    const [ra, rb] = await net.run(Promise.allSettled([a.post("coap://10.0.0.1/big", "a"), b.post("coap://10.0.0.1/big", "b")]));
    expect(rb).toMatchObject({ status: "fulfilled", value: { payload: body(640, 5) } });
    expect(runs).toBe(2);
    // a's next follow-up found nothing kept: 4.08 instead of its block, which its client reads as a broken transfer
    expect(ra).toMatchObject({ status: "rejected", reason: { code: "block-mismatch" } });
  });
});
