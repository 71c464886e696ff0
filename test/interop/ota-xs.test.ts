/**
 * The OTA path inside the real XS engine (the simulator's engine): the agent
 * wired to src/platform runs in XS, its sockets, timers, flash and boot calls
 * bridged to the Node twins; the P-256 verifier runs on XS BigInt. Heap is
 * read from XS's meters after a gc.
 */
import { generateKeyPairSync, createHash, sign } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test, vi } from "vitest";

vi.mock("mote/ota-boot", async () => await import("../../host-shim/node/ota-boot.js"));
import { startOtaServer, type OtaServer } from "../../cli/ota-serve.js";
import { describeImage, rawPublicKey, signDescriptor } from "../../cli/ota-sign.js";
import * as flashTwin from "../../host-shim/node/flash.js";
import otaBoot from "../../host-shim/node/ota-boot.js";
import { provisionSim, simulateBoot } from "../../host-shim/node/ota.js";
import { bundleForXs, projectRoot, startXs, type XsEngine } from "../../host-shim/xs/engine.js";
import { encodeDescriptor } from "../../src/ota/descriptor.js";
import { freshBoard, makeImage } from "./ota-helpers.js";

const ENTRY = `
import { createDeviceOtaAgent } from ${JSON.stringify(join(projectRoot(), "src/ota/device.ts"))};
import { verifyP256 } from ${JSON.stringify(join(projectRoot(), "src/ota/p256.ts"))};
import { encodeUtf8 } from ${JSON.stringify(join(projectRoot(), "src/util/utf8.ts"))};
const g = globalThis;
const status = { state: "idle", detail: "", code: "", progress: 0 };
g.otaStart = (a) => {
  const agent = createDeviceOtaAgent({ publicKey: a.publicKey, board: "sim", runningVersion: "1.0.0", updater: { retryDelayMs: 10 } });
  status.state = "running"; status.progress = 0;
  agent.start(encodeUtf8(a.payload), (e) => {
    if (e.type === "progress") status.progress++;
    else { status.state = e.type; status.detail = e.detail; status.code = e.code ?? ""; }
  });
  return 1;
};
g.otaStatus = () => ({ ...status });
g.p256Verify = (a) => verifyP256(a.key, a.digest, a.sig);
`;

const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const PEM = publicKey.export({ type: "spki", format: "pem" }) as string;
let www: string;
let server: OtaServer;
let xs: XsEngine;

beforeAll(async () => {
  www = mkdtempSync(join(tmpdir(), "mote-ota-xs-"));
  server = await startOtaServer({ dir: www });
  const entry = join(www, "ota-xs-entry.ts");
  writeFileSync(entry, ENTRY);
  xs = await startXs({
    bundle: await bundleForXs(entry, { hostModules: ["mote/ota-boot"] }),
    stdio: "ignore",
    hostModules: { "mote/ota-boot": { default: otaBoot }, flash: flashTwin as unknown as Record<string, unknown> },
  });
}, 60_000);

afterAll(async () => {
  await xs?.close();
  await server?.close();
});

function publishImage(name: string, image: Uint8Array, fields: { version: string; board?: string }): string {
  writeFileSync(join(www, name), image);
  return encodeDescriptor(signDescriptor(describeImage(image, { version: fields.version, board: fields.board ?? "sim", urls: [server.url + name] }), privateKey));
}

/** Starts an update in XS and samples XS's heap until it ends (bounded in count and time). */
async function updateInXs(payload: string): Promise<{ state: string; code: string; peakHeap: number }> {
  await xs.call("otaStart", { publicKey: PEM, payload });
  let status = { state: "running", detail: "", code: "" };
  let peakHeap = 0;
  const start = Date.now();
  for (let i = 0; i < 2000 && status.state === "running" && Date.now() - start < 60_000; i++) {
    await new Promise((r) => setTimeout(r, 20));
    peakHeap = Math.max(peakHeap, (await xs.meters()).heapBytes);
    status = (await xs.call("otaStatus")) as typeof status;
  }
  return { state: status.state, code: status.code, peakHeap };
}

test("P-256 verification on XS BigInt agrees with node:crypto", async () => {
  const pub = rawPublicKey(publicKey);
  for (let i = 0; i < 4; i++) {
    const msg = makeImage(50 + i * 30, i + 1);
    const digest = new Uint8Array(createHash("sha256").update(msg).digest());
    const sig = new Uint8Array(sign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" }));
    expect(await xs.call("p256Verify", { key: pub, digest, sig })).toBe(true);
    sig[i * 7] ^= 4;
    expect(await xs.call("p256Verify", { key: pub, digest, sig })).toBe(false);
  }
}, 60_000);

test("v1 -> v2 inside XS: downloaded, verified, switched; XS heap does not grow with the image size", async () => {
  const peaks: number[] = [];
  for (const [size, version] of [[128 * 1024, "2.0.0"], [512 * 1024, "2.1.0"]] as const) {
    freshBoard();
    flashTwin.configureFlash({ partitions: { otadata: 8192, ota_0: 640 * 1024, ota_1: 640 * 1024, xs: 128 * 1024 } });
    provisionSim({ image: makeImage(8000, 1), version: "1.0.0" });
    const image = makeImage(size, size);
    const r = await updateInXs(publishImage(`app-${version}.bin`, image, { version }));
    expect(r).toMatchObject({ state: "done" });
    const boot = simulateBoot();
    expect([boot.version, boot.state]).toEqual([version, "pending-verify"]);
    expect(boot.image).toEqual(image);
    peaks.push(r.peakHeap);
  }
  // four times the image, same heap (within 16 KiB of slack for sampling noise)
  expect(peaks[1]).toBeLessThanOrEqual(peaks[0] + 16 * 1024);
}, 60_000);

test("a wrong board is refused inside XS before anything is erased", async () => {
  freshBoard();
  provisionSim({ image: makeImage(8000, 1), version: "1.0.0" });
  const before = flashTwin.flashOperations();
  const r = await updateInXs(publishImage("other-3.0.0.bin", makeImage(20_000, 9), { version: "3.0.0", board: "esp32/other" }));
  expect(r).toMatchObject({ state: "error", code: "wrong-board" });
  expect(flashTwin.flashOperations()).toBe(before);
  expect(simulateBoot().version).toBe("1.0.0");
}, 60_000);
