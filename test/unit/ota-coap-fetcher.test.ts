import { describe, expect, test } from "vitest";
import { CoapClient } from "../../src/coap/client.js";
import type { FetchSink } from "../../src/ota/agent.js";
import { coapFetcher, type CoapDownloader } from "../../src/ota/coap-fetcher.js";
import { Updater } from "../../src/ota/updater.js";
import { descriptorText, Driver, makeImage, MemFlash, signedFor, updaterOptions } from "./ota-fakes.js";
import { FakeNet, libcoapLikeBlockServer } from "./coap-fake-net.js";

const IMAGE = makeImage(10_000, 3);

/** A CoAP server in memory: serves IMAGE in 1024-byte blocks from `offset`, or refuses offsets, or stops after `cut` blocks. */
function fakeCoap(behaviour: { refuseOffset?: boolean; cutAfterBlocks?: number; halfBlockAtCut?: boolean } = {}) {
  const calls: Array<{ url: string; offset: number }> = [];
  const client: CoapDownloader = {
    download(url, onBlock, opts = {}) {
      const offset = opts.offset ?? 0;
      calls.push({ url, offset });
      return new Promise((resolve, reject) => {
        queueMicrotask(() => {
          if (offset > 0 && behaviour.refuseOffset) return reject(Object.assign(new Error("block-mismatch"), { code: "block-mismatch" }));
          let blocks = 0;
          for (let at = offset; at < IMAGE.length; at += 1024) {
            if (behaviour.cutAfterBlocks !== undefined && blocks++ >= behaviour.cutAfterBlocks) {
              behaviour.cutAfterBlocks = undefined; // only the first transfer is cut
              if (behaviour.halfBlockAtCut) onBlock(IMAGE.subarray(at, at + 512), at, true);
              return reject(Object.assign(new Error("timeout"), { code: "timeout" }));
            }
            onBlock(IMAGE.subarray(at, Math.min(at + 1024, IMAGE.length)), at, at + 1024 < IMAGE.length);
          }
          resolve({ code: 69, ok: true }); // 2.05
        });
      });
    },
  };
  return { client, calls };
}

/** Runs the updater with the CoAP fetcher as its only transport, on a fake flash and the real microtask queue. */
async function update(fetcher: ReturnType<typeof coapFetcher>, url = "coap://h/fw", pump: () => Promise<void> = async () => {}) {
  const flash = new MemFlash(64 * 1024);
  const d = new Driver(new Updater(updaterOptions(flash, { retryDelayMs: 1 })), flash);
  d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE, { urls: [url] })) });
  let served = 0;
  for (let i = 0; i < 20 && d.updater.state !== "done" && d.updater.state !== "failed"; i++) {
    if (d.updater.state === "waiting-retry") {
      d.now = d.updater.nextDeadline()!;
      d.feed({ type: "timer" });
    }
    if (d.fetches.length > served) {
      served = d.fetches.length;
      const sink: FetchSink = {
        response: (status, contentLength, contentRange) => d.feed({ type: "response", status, contentLength, contentRange }),
        body: (data) => d.feed({ type: "body", data }),
        room: () => d.updater.room(),
        end: () => d.feed({ type: "end" }),
        fail: (code) => d.feed({ type: "fetch-failed", code }),
      };
      fetcher(url, d.fetches[served - 1], sink, IMAGE.length);
    }
    await pump();
    await new Promise((r) => setTimeout(r, 0));
  }
  return d;
}

describe("coap:// fetcher", () => {
  test("a whole Block2 transfer lands byte-exact", async () => {
    const { client, calls } = fakeCoap();
    const d = await update(coapFetcher(client));
    expect(d.updater.state).toBe("done");
    expect(d.flash.bytes.subarray(0, IMAGE.length)).toEqual(IMAGE);
    expect(calls).toEqual([{ url: "coap://h/fw", offset: 0 }]);
  });

  test("an interrupted transfer resumes at the block holding the next byte, reported as a 206", async () => {
    const { client, calls } = fakeCoap({ cutAfterBlocks: 5 });
    const d = await update(coapFetcher(client));
    expect(d.updater.state).toBe("done");
    expect(d.flash.bytes.subarray(0, IMAGE.length)).toEqual(IMAGE);
    expect(calls.map((c) => c.offset)).toEqual([0, 5120]);
    expect(d.log.some((a) => a.type === "notice" && a.code === "range-ignored")).toBe(false);
  });

  test("a resume from inside a block asks for that block and drops the bytes before the offset", async () => {
    const { client, calls } = fakeCoap({ cutAfterBlocks: 5, halfBlockAtCut: true });
    const d = await update(coapFetcher(client));
    expect(d.updater.state).toBe("done");
    expect(d.flash.bytes.subarray(0, IMAGE.length)).toEqual(IMAGE);
    expect(calls.map((c) => c.offset)).toEqual([0, 5120]); // byte 5632 lives in block 5
  });

  test("a server that cannot start mid-resource is remembered; the next attempt starts at block 0 and skips what it has", async () => {
    const { client, calls } = fakeCoap({ cutAfterBlocks: 3, refuseOffset: true });
    const d = await update(coapFetcher(client));
    expect(d.updater.state).toBe("done");
    expect(d.flash.bytes.subarray(0, IMAGE.length)).toEqual(IMAGE);
    expect(calls.map((c) => c.offset)).toEqual([0, 3072, 0]);
    expect(d.log.some((a) => a.type === "notice" && a.code === "range-ignored")).toBe(true);
  });

  test("with one CoapClient against a libcoap-like server, the resume after a cut asks for the next block, not block 0", async () => {
    // The device keeps one CoapClient. libcoap answers a session that just
    // fetched the body from its cache, with ETag and Size2 on the block the
    // resume starts at; the client once took that for a broken sequence
    // (block-mismatch) and the fetcher fell back to block 0 for good.
    const net = new FakeNet();
    const server = libcoapLikeBlockServer(net, "10.0.0.1", IMAGE);
    const client = new CoapClient({ host: net.host("10.0.0.2") });
    const offsets: number[] = [];
    let first = true;
    const cutAfterThreeBlocks: CoapDownloader = {
      download(url, onBlock, opts) {
        offsets.push(opts?.offset ?? 0);
        if (!first) return client.download(url, onBlock, opts);
        first = false;
        let blocks = 0;
        // The client has no abort: its transfer runs to the end, the blocks after the cut are lost.
        return client
          .download(url, (data, at, more) => void (++blocks <= 3 && onBlock(data, at, more)), opts)
          .then(() => Promise.reject(Object.assign(new Error("timeout: cut"), { code: "timeout" })));
      },
    };
    const d = await update(coapFetcher(cutAfterThreeBlocks), "coap://10.0.0.1/fw", () => net.settle());
    expect(d.updater.state).toBe("done");
    expect(d.flash.bytes.subarray(0, IMAGE.length)).toEqual(IMAGE);
    expect(offsets).toEqual([0, 3072]);
    expect(server.served.filter((s) => s.endsWith("#0"))).toHaveLength(1);
    expect(d.log.some((a) => a.type === "notice" && a.code === "range-ignored")).toBe(false);
  });
});
