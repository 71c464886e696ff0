/**
 * The simulator bridge's own cost (host-shim/xs): synchronous host calls from
 * XS per second, with and without a 16 KB payload.
 *   npm run bench -- bridge [--json]
 */
import { measure, measureInXs, type Emit } from "./lib.js";

const echo = { default: { inc: (n: number) => n + 1, sink: (d: Uint8Array) => d.byteLength } };

export async function run(emit: Emit): Promise<void> {
  const hostModules = { "mote:bench/echo": echo };
  const call = await measureInXs("bench/bridge-xs.ts", "hostCall", undefined, { hostModules, minMs: 500 });
  // Peer: the same call made directly in Node (what the bridge costs on top of a plain call is the ratio).
  const direct = measure(() => echo.default.inc(1), { minMs: 200 });
  emit({ metric: "host_call_round_trips", unit: "calls/s", mote: call.opsPerSec, peer: "direct call in Node", peer_value: direct.opsPerSec, ratio: call.opsPerSec / direct.opsPerSec, engine: "xs" });
  const big = await measureInXs("bench/bridge-xs.ts", "hostCall16k", undefined, { hostModules, minMs: 500 });
  emit({ metric: "host_call_16KB", unit: "MB/s", mote: (big.opsPerSec * 16 * 1024) / 1e6, peer: null, peer_value: null, ratio: null, engine: "xs" });
  emit({ metric: "xs_heap_after_bench", unit: "bytes", mote: big.heapBytes, peer: null, peer_value: null, ratio: null, engine: "xs" });
}
