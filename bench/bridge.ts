/**
 * The simulator bridge's own cost (host-shim/xs): synchronous host calls from
 * XS per second, with and without a 16 KB payload; TCP send throughput of the
 * same code inside XS and on Node (both over the Node twin, to a node:net sink).
 *   npm run bench -- bridge [--json]
 */
import net from "node:net";
import { bundleForXs, startXs } from "../host-shim/xs/engine.js";
import { measure, measureInXs, type Emit } from "./lib.js";
import { sendBytes } from "./tcp-send-entry.js";

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

  const sink = net.createServer((s) => s.on("data", () => {}).on("error", () => {}));
  const port = await new Promise<number>((r) => sink.listen(0, "127.0.0.1", () => r((sink.address() as net.AddressInfo).port)));
  const total = 32 * 1024 * 1024;
  const onNode = await sendBytes({ port, total });
  const xs = await startXs({ bundle: await bundleForXs("bench/bridge-xs.ts", { hostModules: ["mote:bench/echo"] }), stdio: "ignore", hostModules });
  const inXs = (await xs.call("sendBytes", { port, total })) as { ms: number };
  await xs.close();
  sink.close();
  const mbps = (ms: number) => total / 1e6 / (Math.max(ms, 1) / 1000);
  emit({ metric: "tcp_send_32MB", unit: "MB/s", mote: mbps(inXs.ms), peer: "same code on Node", peer_value: mbps(onNode.ms), ratio: mbps(inXs.ms) / mbps(onNode.ms), engine: "xs" });
}
