/**
 * OTA benchmarks (npm run bench -- ota [--json]):
 *  - update_1MB_loopback: a full 1 MiB update (descriptor check, erase,
 *    HTTP download, hashing, flash writes into the simulated slot, switch)
 *    by the OTA agent in Node over loopback from `mote ota serve`, against
 *    `curl` fetching the same file from the same server in the same run.
 *    ratio = curl_ms / mote_ms (> 1: mote faster; mote also erases, writes
 *    and verifies, curl only downloads).
 *  - updater_buffer_peak: the largest image buffer the updater core held
 *    during the 1 MiB update (Node), for a 256 KiB and a 1 MiB image.
 *  - xs_heap_peak_*: the same update inside the XS engine, XS heap sampled
 *    during the transfer (after gc), for 256 KiB and 1 MiB images — the
 *    target is that image size does not show in it.
 *  - p256_verify: descriptor signature checks per second (BigInt), Node and XS.
 */
import { spawn } from "node:child_process";
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOtaServer } from "../cli/ota-serve.js";
import { describeImage, nodeOtaCrypto, rawPublicKey, signDescriptor } from "../cli/ota-sign.js";
import * as flashTwin from "../host-shim/node/flash.js";
import * as otaTwin from "../host-shim/node/ota.js";
import * as otaBootTwin from "../host-shim/node/ota-boot.js";
import { bundleForXs, startXs } from "../host-shim/xs/engine.js";
import TCP from "../host-shim/node/tcp.js";
import { httpGet, type HttpTransport } from "../src/http/client.js";
import { httpFetcher, OtaAgent, type OtaTarget } from "../src/ota/agent.js";
import { encodeDescriptor } from "../src/ota/descriptor.js";
import { verifyP256 } from "../src/ota/p256.js";
import { measure, measureInXs, round, type Emit } from "./lib.js";

const MIB = 1 << 20;

function image(size: number, seed: number): Uint8Array {
  let x = seed;
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

function transport(): HttpTransport {
  return {
    connect(o) {
      const tcp = new TCP({
        address: o.address,
        port: o.port,
        onReadable: (n: number) => o.onReadable(n),
        onWritable: (n: number) => o.onWritable(n),
        onError: (e?: Error) => o.onError(/^(\w+):/.exec(e?.message ?? "")?.[1] ?? "closed", e?.message),
      });
      return { read: (n?: number) => new Uint8Array(tcp.read(n) as ArrayBuffer), write: (d: Uint8Array) => void tcp.write(d), close: () => tcp.close() };
    },
    resolve: (host, cb) => setImmediate(() => cb(host)),
    now: () => performance.now(),
    alarm(onAlarm) {
      let t: NodeJS.Timeout | undefined;
      return {
        arm(deadline) {
          if (t) clearTimeout(t);
          t = deadline === undefined ? undefined : setTimeout(onAlarm, Math.max(0, deadline - performance.now()));
        },
        close() {
          if (t) clearTimeout(t);
        },
      };
    },
  };
}

/** The simulated board's slots, written directly (the platform facade needs `mote/ota-boot`, which bench bundles do not alias). */
function simTarget(): OtaTarget {
  const open = (kind: string) => new flashTwin.default(kind === "mod" ? "xs" : "nextota"); // as Moddable names the slot
  return {
    geometry: (kind) => {
      const f = open(kind);
      return { byteLength: f.byteLength, blockSize: f.blockSize };
    },
    erase: (kind, s) => open(kind).erase(s),
    write: (kind, o, d) => open(kind).write(o, d.length, d),
    activate: (_kind, img) => otaTwin.setBootPartition(otaTwin.nextUpdatePartition(), { byteLength: img.size, sha256: img.sha256, version: img.version, minVersion: img.minVersion }),
    floorVersion: () => undefined,
    modVersion: () => undefined,
  };
}

function freshBoard(): void {
  flashTwin.configureFlash({ dir: mkdtempSync(join(tmpdir(), "mote-bench-ota-")), partitions: { otadata: 8192, ota_0: 0x1d0000, ota_1: 0x1d0000, xs: 0x40000 } });
  otaTwin.provisionSim({ image: image(4096, 1), version: "1.0.0" });
}

function curl(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn("curl", ["-s", "-o", "/dev/null", url], { stdio: "ignore" });
    child.on("error", () => resolve(undefined));
    child.on("close", (code) => resolve(code === 0 ? performance.now() - start : undefined));
  });
}

export async function run(emit: Emit): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pub = rawPublicKey(publicKey);
  const www = mkdtempSync(join(tmpdir(), "mote-bench-ota-www-"));
  const server = await startOtaServer({ dir: www });
  const payloads: Record<number, string> = {};
  for (const size of [256 * 1024, MIB]) {
    const name = `app-${size}.bin`;
    const img = image(size, size);
    writeFileSync(join(www, name), img);
    payloads[size] = encodeDescriptor(signDescriptor(describeImage(img, { version: "2.0.0", board: "sim", urls: [server.url + name] }), privateKey));
  }
  try {
    // --- Node: time and updater buffers ---------------------------------------------------
    const peaks: Record<number, number> = {};
    let updateMs = 0;
    for (const size of [256 * 1024, MIB]) {
      freshBoard();
      const t = transport();
      const agent = new OtaAgent({
        publicKey: pub,
        crypto: nodeOtaCrypto,
        board: "sim",
        runningVersion: "1.0.0",
        target: simTarget(),
        fetchers: { http: httpFetcher((p, h) => httpGet(t, p, h)) },
        now: t.now,
        alarm: t.alarm,
        defer: (cb) => setImmediate(cb),
      });
      let peak = 0;
      const start = performance.now();
      const result = await new Promise<string>((resolve) =>
        agent.start(new TextEncoder().encode(payloads[size]), (e) => {
          peak = Math.max(peak, agent.updater?.bufferBytes() ?? 0);
          if (e.type !== "progress") resolve(e.type === "done" ? "done" : e.detail);
        }),
      );
      if (result !== "done") throw new Error(`update failed: ${result}`);
      if (size === MIB) updateMs = performance.now() - start;
      peaks[size] = peak;
      if (otaTwin.simulateBoot().version !== "2.0.0") throw new Error("did not boot the update");
    }
    const curlMs = await curl(server.url + `app-${MIB}.bin`);
    if (curlMs === undefined) console.log("ota: curl not found or failed — update_1MB_loopback has no peer figure");
    emit({
      metric: "update_1MB_loopback",
      unit: "ms",
      mote: round(updateMs),
      peer: curlMs === undefined ? null : "curl (download only)",
      peer_value: curlMs === undefined ? null : round(curlMs),
      ratio: curlMs === undefined ? null : round(curlMs / updateMs),
      engine: "node",
    });
    emit({ metric: "updater_buffer_peak_256KiB", unit: "bytes", mote: peaks[256 * 1024], engine: "node" });
    emit({ metric: "updater_buffer_peak_1MiB", unit: "bytes", mote: peaks[MIB], engine: "node" });

    // --- P-256 verify ------------------------------------------------------------------------
    const msg = new TextEncoder().encode(payloads[MIB]);
    const digest = new Uint8Array(createHash("sha256").update(msg).digest());
    const sig = new Uint8Array(sign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" }));
    const node = measure(() => verifyP256(pub, digest, sig), { warmup: 3, minMs: 500 });
    emit({ metric: "p256_verify", unit: "verifies/s", mote: round(node.opsPerSec), engine: "node" });
    try {
      const xsVerify = await measureInXs("bench/ota-xs.ts", "p256Verify", { key: pub, digest, sig }, {
        warmup: 1,
        minMs: 1000,
        hostModules: { "mote/ota-boot": otaBootTwin as unknown as Record<string, unknown>, flash: flashTwin as unknown as Record<string, unknown> },
      });
      emit({ metric: "p256_verify", unit: "verifies/s", mote: round(xsVerify.opsPerSec), engine: "xs" });
    } catch (e) {
      console.log(`ota: XS p256 figure skipped — ${(e as Error).message}`);
    }

    // --- XS: heap during the update ---------------------------------------------------------
    const pem = publicKey.export({ type: "spki", format: "pem" }) as string;
    for (const size of [256 * 1024, MIB]) {
      freshBoard();
      const xs = await startXs({
        bundle: await bundleForXs(join("bench", "ota-xs.ts"), { hostModules: ["mote/ota-boot"] }),
        stdio: "ignore",
        hostModules: { "mote/ota-boot": otaBootTwin as unknown as Record<string, unknown>, flash: flashTwin as unknown as Record<string, unknown> },
      });
      try {
        const before = await xs.meters();
        const start = performance.now();
        await xs.call("otaStart", { publicKey: pem, board: "sim", runningVersion: "1.0.0", payload: payloads[size] });
        let peak = before.heapBytes;
        let status: { state: string; detail: string } = { state: "running", detail: "" };
        for (let i = 0; i < 100_000 && status.state === "running" && performance.now() - start < 300_000; i++) {
          await new Promise((r) => setTimeout(r, 25));
          const m = await xs.meters();
          peak = Math.max(peak, m.heapBytes);
          status = (await xs.call("otaStatus")) as typeof status;
        }
        const ms = performance.now() - start;
        const after = await xs.meters();
        if (status.state !== "done") throw new Error(`XS update ${status.state}: ${status.detail}`);
        const label = size === MIB ? "1MiB" : "256KiB";
        // Sampled every 25 ms from outside: a download shorter than a few samples can
        // finish between them, so the smaller image may show its pre-download heap.
        // The exact check (readings at fixed byte offsets, equal for both sizes) is
        // test/xs/ota-heap.test.ts.
        emit({ metric: `xs_heap_peak_${label}`, unit: "bytes", mote: peak, baseline: before.heapBytes, method: "sampled every 25 ms (exact check: test/xs/ota-heap.test.ts)", engine: "xs" });
        emit({ metric: `xs_update_${label}`, unit: "ms", mote: round(ms), engine: "xs" });
      } finally {
        await xs.close();
      }
    }
  } finally {
    await server.close();
  }
}
