import { describe, expect, test } from "vitest";
import type { FetchSink } from "../../src/ota/agent.js";
import { coapFetcher, type CoapDownloader } from "../../src/ota/coap-fetcher.js";
import { Updater } from "../../src/ota/updater.js";
import { descriptorText, Driver, makeImage, MemFlash, signedFor, updaterOptions } from "./ota-fakes.js";

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
async function update(fetcher: ReturnType<typeof coapFetcher>) {
  const flash = new MemFlash(64 * 1024);
  const d = new Driver(new Updater(updaterOptions(flash, { retryDelayMs: 1 })), flash);
  d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE, { urls: ["coap://h/fw"] })) });
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
      fetcher("coap://h/fw", d.fetches[served - 1], sink, IMAGE.length);
    }
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
});
