import { describe, expect, test } from "vitest";
import { CoapClient, CoapRequestError, type CoapResponse } from "../../src/coap/client.js";
import { ContentFormat, ResponseCode } from "../../src/coap/codec.js";
import { CoapServer } from "../../src/coap/server.js";
import { FakeNet, libcoapLikeBlockServer } from "./coap-fake-net.js";

function pair(loss = 0, seed = 1, clientOpts: Record<string, unknown> = {}) {
  const net = new FakeNet(loss, seed);
  const server = new CoapServer({ host: net.host("10.0.0.1"), port: 5683 });
  const client = new CoapClient({ host: net.host("10.0.0.2"), ...clientOpts });
  return { net, server, client };
}

describe("CoapClient against CoapServer on an in-memory network", () => {
  test("GET returns the handler's payload, content format and code", async () => {
    const { net, server, client } = pair();
    server.add({ path: "/hello", handlers: { GET: () => ({ payload: "world", contentFormat: ContentFormat.TextPlain }) } });
    const r = await net.run(client.get("coap://10.0.0.1/hello"));
    expect(r.codeText).toBe("2.05");
    expect(r.text()).toBe("world");
    expect(r.contentFormat).toBe(0);
    const missing = await net.run(client.get("coap://10.0.0.1/nope"));
    expect(missing.codeText).toBe("4.04");
    expect(missing.ok).toBe(false);
  });

  test("a host name goes through DNS; an unknown one rejects with dns", async () => {
    const { net, server, client } = pair();
    server.add({ path: "/x", handlers: { GET: () => ({ payload: "ok" }) } });
    expect((await net.run(client.get("coap://server.local/x"))).text()).toBe("ok");
    await expect(net.run(client.get("coap://nowhere.local/x"))).rejects.toMatchObject({ code: "dns" });
  });

  test("POST, PUT and DELETE reach their handlers with the payload", async () => {
    const { net, server, client } = pair();
    let stored = "";
    server.add({
      path: "/store",
      handlers: {
        PUT: (req) => {
          stored = new TextDecoder().decode(req.payload);
          return { code: ResponseCode.Changed };
        },
        DELETE: () => ((stored = ""), { code: ResponseCode.Deleted }),
      },
    });
    expect((await net.run(client.put("coap://10.0.0.1/store", "abc"))).codeText).toBe("2.04");
    expect(stored).toBe("abc");
    expect((await net.run(client.post("coap://10.0.0.1/store", "x"))).codeText).toBe("4.05");
    expect((await net.run(client.delete("coap://10.0.0.1/store"))).codeText).toBe("2.02");
  });

  test("a handler that answers late produces a separate response the client accepts", async () => {
    const { net, server, client } = pair();
    server.add({
      path: "/slow",
      handlers: {
        GET: () =>
          new Promise((resolve) => {
            const t = net.host("10.0.0.1").createAlarm(() => resolve({ payload: "eventually" }));
            t.arm(net.now + 5000);
          }),
      },
    });
    const r = await net.run(client.get("coap://10.0.0.1/slow"));
    expect(r.text()).toBe("eventually");
  });

  test("a 1 MB representation is downloaded block by block, in order, from a source read per block", async () => {
    const { net, server, client } = pair();
    const size = 1 << 20;
    let reads = 0;
    let largestRead = 0;
    server.add({
      path: "/big",
      handlers: {
        GET: () => ({
          payload: {
            size,
            read(offset: number, length: number) {
              reads++;
              largestRead = Math.max(largestRead, length);
              return new Uint8Array(length).map((_, i) => (offset + i) % 251);
            },
          },
        }),
      },
    });
    let expected = 0;
    let bad = 0;
    let biggest = 0;
    const r = await net.run(
      client.download("coap://10.0.0.1/big", (data, offset) => {
        if (offset !== expected) bad++;
        for (let i = 0; i < data.length; i++) if (data[i] !== (offset + i) % 251) bad++;
        expected += data.length;
        biggest = Math.max(biggest, data.length);
      }),
    );
    expect(r.ok).toBe(true);
    expect(expected).toBe(size);
    expect(bad).toBe(0);
    expect(biggest).toBe(1024);
    expect(reads).toBe(1024);
    expect(largestRead).toBe(1024);
  });

  test("a 10 KB upload goes block by block (Block1) and the handler sees the whole body once", async () => {
    const { net, server, client } = pair();
    const bodies: number[] = [];
    server.add({ path: "/up", handlers: { PUT: (req) => (bodies.push(req.payload.length), { code: ResponseCode.Changed, payload: String(req.payload.reduce((a, b) => a + b, 0)) }) } });
    const body = new Uint8Array(10_000).map((_, i) => i % 7);
    const r = await net.run(client.upload("coap://10.0.0.1/up", body, { blockSize: 512 }));
    expect(r.codeText).toBe("2.04");
    expect(r.text()).toBe(String(body.reduce((a, b) => a + b, 0)));
    expect(bodies).toEqual([10_000]);
  });

  test("an upload over the server's limit gets 4.13", async () => {
    const net = new FakeNet();
    const server = new CoapServer({ host: net.host("10.0.0.1"), port: 5683, maxUploadBytes: 2048 });
    const client = new CoapClient({ host: net.host("10.0.0.2") });
    server.add({ path: "/up", handlers: { PUT: () => ({}) } });
    const r = await net.run(client.upload("coap://10.0.0.1/up", new Uint8Array(5000)));
    expect(r.codeText).toBe("4.13");
  });

  test("download({ offset }) resumes at a block boundary; a bad offset is misuse", async () => {
    const { net, server, client } = pair();
    const body = new Uint8Array(5000).map((_, i) => i & 0xff);
    server.add({ path: "/img", handlers: { GET: () => ({ payload: body }) } });
    const got: number[] = [];
    const r = await net.run(client.download("coap://10.0.0.1/img", (d, off) => got.push(off, d[0]), { offset: 2048 }));
    expect(r.ok).toBe(true);
    expect(got).toEqual([2048, 2048 & 0xff, 3072, 3072 & 0xff, 4096, 4096 & 0xff]);
    const small: number[] = [];
    await net.run(client.download("coap://10.0.0.1/img", (_d, off) => small.push(off), { offset: 4864, blockSize: 128 }));
    expect(small).toEqual([4864, 4992]);
    expect(() => client.download("coap://10.0.0.1/img", () => undefined, { offset: 100 })).toThrow(/invalid-argument/);
  });

  test("after a full Block2 download, the same client resumes mid-resource from a libcoap-like server (ETag + Size2 on a cached body)", async () => {
    const net = new FakeNet();
    const body = new Uint8Array(5000).map((_, i) => (i * 7) & 0xff);
    libcoapLikeBlockServer(net, "10.0.0.1", body);
    const fetchFrom = async (client: CoapClient, offset: number) => {
      const got: number[] = [];
      let bad = 0;
      const r = await net.run(
        client.download("coap://10.0.0.1/fw", (d, at) => {
          got.push(at);
          for (let i = 0; i < d.length; i++) if (d[i] !== body[at + i]) bad++;
        }, { offset }),
      );
      return { ok: r.ok, got, bad };
    };
    const same = new CoapClient({ host: net.host("10.0.0.2") });
    expect(await fetchFrom(same, 0)).toEqual({ ok: true, got: [0, 1024, 2048, 3072, 4096], bad: 0 });
    expect(await fetchFrom(same, 3072)).toEqual({ ok: true, got: [3072, 4096], bad: 0 });
    const fresh = new CoapClient({ host: net.host("10.0.0.3") });
    expect(await fetchFrom(fresh, 2048)).toEqual({ ok: true, got: [2048, 3072, 4096], bad: 0 });
  });

  test("a large body without download() is assembled up to maxBodyBytes, then fails too-large", async () => {
    const { net, server, client } = pair(0, 1, { maxBodyBytes: 4096 });
    server.add({ path: "/mid", handlers: { GET: () => ({ payload: new Uint8Array(3000).fill(7) }) } });
    server.add({ path: "/huge", handlers: { GET: () => ({ payload: new Uint8Array(5000) }) } });
    const r = await net.run(client.get("coap://10.0.0.1/mid"));
    expect(r.payload.length).toBe(3000);
    await expect(net.run(client.get("coap://10.0.0.1/huge"))).rejects.toMatchObject({ code: "too-large" });
  });

  test("observe delivers each notification; cancel deregisters so the server forgets the observer", async () => {
    const { net, server, client } = pair();
    let value = 0;
    server.add({ path: "/counter", observable: true, handlers: { GET: () => ({ payload: String(value) }) } });
    const seen: string[] = [];
    const h = client.observe("coap://10.0.0.1/counter", (r: CoapResponse) => seen.push(r.text()));
    await net.runUntil(() => seen.length === 1);
    expect(server.resources.observerCount).toBe(1);
    for (value = 1; value <= 3; value++) {
      server.notify("/counter");
      await net.runUntil(() => seen.length === value + 1);
    }
    expect(seen).toEqual(["0", "1", "2", "3"]);
    await net.run(h.cancel());
    expect(server.resources.observerCount).toBe(0);
    await expect(h.ended).resolves.toBeUndefined();
  });

  test("notifications bigger than a block arrive whole", async () => {
    const { net, server, client } = pair();
    let fill = 1;
    server.add({ path: "/blob", observable: true, handlers: { GET: () => ({ payload: new Uint8Array(3000).fill(fill), etag: Uint8Array.of(fill) }) } });
    const seen: { length: number; first: number; last: number }[] = [];
    const h = client.observe("coap://10.0.0.1/blob", (r) => seen.push({ length: r.payload.length, first: r.payload[0], last: r.payload[2999] }));
    await net.runUntil(() => seen.length === 1);
    fill = 2;
    server.notify("/blob");
    await net.runUntil(() => seen.length === 2);
    expect(seen).toEqual([
      { length: 3000, first: 1, last: 1 },
      { length: 3000, first: 2, last: 2 },
    ]);
    await net.run(h.cancel());
  });

  test("an observation survives the server restarting: after Max-Age the client registers again", async () => {
    const net = new FakeNet();
    const host = net.host("10.0.0.1");
    let value = 0;
    const resource = { path: "/v", observable: true, handlers: { GET: () => ({ payload: String(value), maxAge: 10 }) } };
    let server = new CoapServer({ host, port: 5683 }).add(resource);
    const client = new CoapClient({ host: net.host("10.0.0.2") });
    const seen: string[] = [];
    client.observe("coap://10.0.0.1/v", (r) => seen.push(r.text()));
    await net.runUntil(() => seen.length === 1);
    value = 1;
    server.notify("/v");
    await net.runUntil(() => seen.length === 2);
    server.close(); // the server restarts and forgets its observers
    server = new CoapServer({ host, port: 5683 }).add(resource);
    value = 2;
    const restartedAt = net.now;
    await net.runUntil(() => seen.length === 3); // the re-registration's response
    expect(net.now - restartedAt).toBeGreaterThanOrEqual(10_000);
    expect(server.resources.observerCount).toBe(1);
    value = 3;
    server.notify("/v"); // the new server's sequence numbers start over: still fresh
    await net.runUntil(() => seen.length === 4);
    expect(seen).toEqual(["0", "1", "2", "3"]);
    client.close();
    server.close();
  });

  test("/.well-known/core lists the resources as typed links", async () => {
    const { net, server, client } = pair();
    server.add({ path: "/sensors/temp", rt: ["temperature-c"], if: ["sensor"], ct: [0], observable: true, handlers: { GET: () => ({ payload: "21" }) } });
    server.add({ path: "/light", title: "Lamp", handlers: { PUT: () => ({}) } });
    const links = await net.run(client.discover("coap://10.0.0.1"));
    expect(links.map((l) => l.href)).toEqual(["/sensors/temp", "/light"]);
    expect(links[0]).toMatchObject({ rt: ["temperature-c"], if: ["sensor"], ct: [0], obs: true });
    expect(links[1].title).toBe("Lamp");
  });

  test("an unanswered request fails with timeout at the end of the exact retransmission schedule", async () => {
    const net = new FakeNet();
    const client = new CoapClient({ host: { ...net.host("10.0.0.2"), random: () => 0 } });
    const p = client.get("coap://10.0.0.9/x");
    await expect(net.run(p)).rejects.toBeInstanceOf(CoapRequestError);
    expect(net.now).toBe(2000 + 4000 + 8000 + 16000 + 32000); // 62 s with random factor 1
  });

  test("timeoutMs ends a request early with timeout", async () => {
    const net = new FakeNet();
    const client = new CoapClient({ host: net.host("10.0.0.2") });
    await expect(net.run(client.get("coap://10.0.0.9/x", { timeoutMs: 1500 }))).rejects.toMatchObject({ code: "timeout" });
    expect(net.now).toBe(1500);
  });

  test("ping resolves when the peer answers the empty CON with RST", async () => {
    const { net, client } = pair();
    await net.run(client.ping("coap://10.0.0.1"));
  });

  test("misuse throws MoteError: a bad URL, a token longer than 8 bytes, a bad block size", () => {
    const { client } = pair();
    expect(() => client.get("http://x/")).toThrow(/invalid-url/);
    expect(() => client.get("coap://10.0.0.1/", { token: new Uint8Array(9) })).toThrow(/invalid-argument/);
    expect(() => client.get("coap://10.0.0.1/", { blockSize: 100 })).toThrow(/invalid-argument/);
  });
});

describe("30% loss both ways (seeded)", () => {
  test("every CON request completes and no request reaches the handler twice", async () => {
    const { net, server, client } = pair(0.3, 4242, { maxRetransmit: 10 });
    let calls = 0;
    server.add({ path: "/count", handlers: { POST: () => ({ payload: String(++calls) }) } });
    const answers: string[] = [];
    for (let i = 0; i < 40; i++) answers.push((await net.run(client.post("coap://10.0.0.1/count", "+1"))).text());
    expect(answers).toEqual(Array.from({ length: 40 }, (_, i) => String(i + 1)));
    expect(calls).toBe(40);
    expect(net.dropped).toBeGreaterThan(net.sent * 0.2);
  });
});

