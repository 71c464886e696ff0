/**
 * Shared set-up for the OTA interop tests: a simulated board (flash files in
 * a temp dir), an `mote ota serve` server, and an OtaAgent wired to the
 * platform facade (src/platform/ota.ts over the host-shim twins) and the
 * HTTP binding over the Node twin of `embedded:io/socket/tcp`.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeImage, nodeOtaCrypto, rawPublicKey, signDescriptor } from "../../cli/ota-sign.js";
import { configureFlash } from "../../host-shim/node/flash.js";
import { connectTcp } from "../../src/platform/tcp.js";
import { httpGet, type HttpTransport } from "../../src/http/client.js";
import { httpFetcher, OtaAgent, type OtaAgentEvent, type OtaAgentOptions } from "../../src/ota/agent.js";
import { encodeDescriptor, type Descriptor, type UpdateKind } from "../../src/ota/descriptor.js";
import { platformOtaTarget } from "../../src/platform/ota.js";
import { generateKeyPairSync } from "node:crypto";

export const SIGNER = generateKeyPairSync("ec", { namedCurve: "P-256" });
export const PUBLIC_KEY = rawPublicKey(SIGNER.publicKey);

export function makeImage(size: number, seed: number): Uint8Array {
  let x = seed >>> 0 || 1;
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

/** A fresh simulated flash (small slots keep the files small and the tests fast). */
export function freshBoard(slotBytes = 256 * 1024): string {
  const dir = mkdtempSync(join(tmpdir(), "mote-ota-board-"));
  configureFlash({
    dir,
    partitions: { otadata: 8192, ota_0: slotBytes, ota_1: slotBytes, xs: 64 * 1024 },
  });
  return dir;
}

export function publish(dir: string, name: string, image: Uint8Array, fields: { version: string; board?: string; kind?: UpdateKind; minVersion?: string; baseUrl: string }): Descriptor {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), image);
  const d = signDescriptor(
    describeImage(image, { version: fields.version, board: fields.board ?? "sim", kind: fields.kind, minVersion: fields.minVersion, urls: [fields.baseUrl + name] }),
    SIGNER.privateKey,
  );
  writeFileSync(join(dir, name.replace(/\.[a-z]+$/, ".json")), encodeDescriptor(d));
  return d;
}

/** HttpTransport over the platform TCP wrapper and the Node twins, with real timers. */
export function nodeTransport(): HttpTransport {
  return {
    // The platform wrapper over the Node twin, as on the device (src/ota/device.ts).
    connect: (options) => connectTcp(options),
    resolve(host, callback) {
      setImmediate(() => callback(host === "localhost" ? "127.0.0.1" : host));
    },
    now: () => performance.now(),
    alarm(onAlarm) {
      let t: NodeJS.Timeout | undefined;
      let closed = false;
      return {
        arm(deadline) {
          if (t) clearTimeout(t);
          t = undefined;
          if (deadline === undefined || closed) return;
          t = setTimeout(() => {
            t = undefined;
            if (!closed) onAlarm();
          }, Math.max(0, deadline - performance.now()));
        },
        close() {
          closed = true;
          if (t) clearTimeout(t);
        },
      };
    },
  };
}

export function makeAgent(options: Partial<OtaAgentOptions> & { runningVersion: string }): OtaAgent {
  const transport = nodeTransport();
  return new OtaAgent({
    publicKey: PUBLIC_KEY,
    crypto: nodeOtaCrypto,
    board: "sim",
    target: platformOtaTarget(),
    fetchers: { http: httpFetcher((params, handlers) => httpGet(transport, { ...params, idleTimeoutMs: 2000, connectTimeoutMs: 2000 }, handlers)) },
    now: transport.now,
    alarm: transport.alarm,
    defer: (cb) => setImmediate(cb),
    updater: { retryDelayMs: 5, maxRetryDelayMs: 20, ...(options.updater ?? {}) },
    ...options,
  });
}

/** Runs one `cmd/ota` and resolves with every event, the last being done or error. */
export function runUpdate(agent: OtaAgent, payload: string): Promise<OtaAgentEvent[]> {
  return new Promise((resolve) => {
    const events: OtaAgentEvent[] = [];
    agent.start(new TextEncoder().encode(payload), (e) => {
      events.push(e);
      if (e.type !== "progress") resolve(events);
    });
  });
}
