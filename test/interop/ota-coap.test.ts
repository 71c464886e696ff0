/**
 * A `coap://` image from libcoap's coap-server-notls (Block2, RFC 7959): the
 * first transfer is cut after a few blocks, the resume asks libcoap for the
 * block holding the next byte (random access, §2.4) and the image lands
 * byte-exact in the simulated slot.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test, vi } from "vitest";

vi.mock("mote/ota-boot", async () => await import("../../host-shim/node/ota-boot.js"));

import { provisionSim, simulateBoot } from "../../host-shim/node/ota.js";
import { CoapClient } from "../../src/coap/client.js";
import { platformHost } from "../../src/coap/host.js";
import { coapFetcher, type CoapDownloader } from "../../src/ota/coap-fetcher.js";
import { libcoapMissing, startLibcoapServer, type LibcoapServer } from "../helpers/libcoap.js";
import { freshBoard, makeAgent, makeImage, publish, runUpdate } from "./ota-helpers.js";

const missing = libcoapMissing();
const V2 = makeImage(60_000, 31);
let server: LibcoapServer | undefined;
const clients: CoapClient[] = [];

function newClient(): CoapClient {
  const c = new CoapClient({ host: platformHost() });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  if (missing) return;
  server = await startLibcoapServer();
  const put = await newClient().put(`${server.url}/fw`, V2);
  expect(put.ok).toBe(true);
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop();
});

/** Downloads through `first` then `rest`, the first transfer cut after 12 blocks (as if the network dropped). */
function cutting(first: CoapClient, rest: CoapClient, offsets: number[]): CoapDownloader {
  let initial = true;
  return {
    download(url, onBlock, opts) {
      offsets.push(opts?.offset ?? 0);
      if (!initial) return rest.download(url, onBlock, opts);
      initial = false;
      return new Promise((resolve, reject) => {
        let blocks = 0;
        let cut = false;
        first
          .download(url, (data, at, more) => {
            if (++blocks > 12) cut = true; // blocks after the cut are lost
            else onBlock(data, at, more);
          }, opts)
          // the cut is reported once the client's own transfer has settled (it has no abort)
          .then((r) => (cut ? reject(Object.assign(new Error("timeout: cut by the test"), { code: "timeout" })) : resolve(r)), reject);
      });
    },
  };
}

async function run(downloader: CoapDownloader) {
  freshBoard();
  provisionSim({ image: makeImage(5000, 1), version: "1.0.0" });
  const www = mkdtempSync(join(tmpdir(), "mote-ota-coap-"));
  const d = publish(www, "app-2.0.0.bin", V2, { version: "2.0.0", baseUrl: "http://127.0.0.1:9/" });
  const agent = makeAgent({ runningVersion: "1.0.0", fetchers: { coap: coapFetcher(downloader) } });
  return runUpdate(agent, JSON.stringify({ descriptor: d, url: `${server!.url}/fw` }));
}

test.skipIf(missing !== undefined)("an interrupted Block2 download resumes at the block holding the next byte (libcoap)", async () => {
  const offsets: number[] = [];
  // the resume comes from a new CoAP endpoint, as after a network drop
  const events = await run(cutting(newClient(), newClient(), offsets));
  expect(events.at(-1)).toMatchObject({ type: "done" });
  expect(offsets).toEqual([0, 12 * 1024]);
  const boot = simulateBoot();
  expect([boot.version, boot.state]).toEqual(["2.0.0", "pending-verify"]);
  expect(boot.image).toEqual(V2);
}, 30_000);

test.skipIf(missing !== undefined)("the same CoAP client resumes mid-resource after its own full transfer (libcoap answers from its cache)", async () => {
  // libcoap keeps the body it sent to this client's session and answers the
  // resume from it with ETag and Size2 on the first block; that first block
  // is the ETag reference, so the resume starts at block 12, not block 0.
  const offsets: number[] = [];
  const same = newClient();
  const events = await run(cutting(same, same, offsets));
  expect(events.at(-1)).toMatchObject({ type: "done" });
  expect(offsets).toEqual([0, 12 * 1024]);
  expect(events.some((e) => /range-ignored/.test(e.detail))).toBe(false);
  expect(simulateBoot().image).toEqual(V2);
}, 30_000);
