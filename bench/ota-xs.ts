/**
 * XS-side entry for bench/ota.ts: the OTA agent wired to src/platform (the
 * same code as the device), driven from Node through the XS bridge, plus the
 * BigInt P-256 verifier for a timing figure.
 */
import { createDeviceOtaAgent } from "../src/ota/device.js";
import { verifyP256 } from "../src/ota/p256.js";
import type { OtaAgent } from "../src/ota/agent.js";
import { encodeUtf8 } from "../src/util/utf8.js";

const g = globalThis as unknown as Record<string, unknown>;
const status: { state: string; detail: string; progress: number } = { state: "idle", detail: "", progress: 0 };
let agent: OtaAgent | undefined;

g.otaStart = (a: { publicKey: string; board: string; runningVersion: string; payload: string }) => {
  agent = createDeviceOtaAgent({ publicKey: a.publicKey, board: a.board, runningVersion: a.runningVersion, updater: { retryDelayMs: 10 } });
  status.state = "running";
  status.progress = 0;
  agent.start(encodeUtf8(a.payload), (e) => {
    if (e.type === "progress") status.progress++;
    else {
      status.state = e.type;
      status.detail = e.detail;
      agent = undefined;
    }
  });
  return 1;
};

g.otaStatus = () => ({ ...status });

g.p256Verify = (a: { key: Uint8Array; digest: Uint8Array; sig: Uint8Array }) => verifyP256(a.key, a.digest, a.sig);
