/**
 * XS side of test/xs/ota-heap.test.ts: the OTA agent wired to src/platform
 * (the device's code: HTTP over the tcp/dns twins, flash, boot) and the BigInt
 * P-256 verifier, driven from Node through the XS bridge.
 *
 * `otaStatus().received` is the updater's count of image bytes received and
 * hashed: the Node side uses it to know that XS has consumed every byte it was
 * let have, i.e. that XS is idle at a known point of the download.
 */
import type { OtaAgent } from "../../src/ota/agent.js";
import { createDeviceOtaAgent } from "../../src/ota/device.js";
import { verifyP256 } from "../../src/ota/p256.js";
import { encodeUtf8 } from "../../src/util/utf8.js";

const g = globalThis as unknown as Record<string, unknown>;
const status = { state: "idle", detail: "", code: "", progress: 0 };
/** The running agent, only while an update runs (nothing of it is kept afterwards). */
let agent: OtaAgent | undefined;

g.otaStart = (a: { publicKey: string; payload: string }) => {
  // A long idle timeout: the test holds the body back at each checkpoint while
  // it reads the heap, which must not look like a stalled transfer on a loaded machine.
  agent = createDeviceOtaAgent({ publicKey: a.publicKey, board: "sim", runningVersion: "1.0.0", idleTimeoutMs: 60_000, updater: { retryDelayMs: 10 } });
  status.state = "running";
  status.detail = "";
  status.code = "";
  status.progress = 0;
  agent.start(encodeUtf8(a.payload), (e) => {
    if (e.type === "progress") status.progress++;
    else {
      status.state = e.type;
      status.detail = e.detail;
      status.code = e.code ?? "";
      agent = undefined;
    }
  });
  return 1;
};

g.otaStatus = () => ({ ...status, phase: agent?.updater?.state ?? "none", received: agent?.updater?.received ?? -1 });

g.p256Verify = (a: { key: Uint8Array; digest: Uint8Array; sig: Uint8Array }) => verifyP256(a.key, a.digest, a.sig);
