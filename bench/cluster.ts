/**
 * Broker-list failover on a real 3-node RabbitMQ cluster (issue 19): N simulated
 * devices (the device program on XS) all on node 1, with the three nodes in their
 * broker list; node 1 is killed (SIGKILL of its beam) and the time from the kill
 * to each device's next "mqtt connected" (its log line, as it reaches Node) is
 * taken: max (the whole fleet back) and p50. The bound it is set against is the
 * reconnect backoff's first ceiling (the device program's initialDelayMs, 500 ms:
 * the first delay is uniform in [0, 500]); ratio = bound / time (> 1: inside it).
 * No peer client: a single-broker client stays offline until its node is back.
 * The correctness side (0 QoS 1 lost, wills) is test/cluster/failover.test.ts.
 *   npm run bench -- cluster [--json]      (MOTE_BENCH_DEVICES=N, default 10)
 * Needs Debian's rabbitmq-server (test/helpers/rabbitmq.ts).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulation } from "../host-shim/sim/simulation.js";
import { startRabbitCluster } from "../test/helpers/rabbitmq.js";
import type { Emit } from "./lib.js";

/** The device program's first backoff ceiling (src/app/adapters/mqtt.ts: initialDelayMs). */
const BACKOFF_BOUND_MS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(emit: Emit): Promise<void> {
  const devices = Math.max(1, Math.min(100, Number(process.env.MOTE_BENCH_DEVICES ?? 10) || 10));
  const cluster = await startRabbitCluster({ nodes: 3 });
  const connectedAt: number[][] = Array.from({ length: devices }, () => []);
  try {
    const sim = await startSimulation({
      state: mkdtempSync(join(tmpdir(), "mote-bench-cluster-")),
      devices,
      broker: cluster.nodes.map((n) => n.url).join(","),
      spread: false,
      fleet: `bench-${process.pid}`,
      telemetryMs: 1000,
      observeSensor: false,
      pollMs: 60_000,
      onLog: (i, line) => {
        if (i >= 0 && /mqtt connected/.test(line)) connectedAt[i].push(performance.now());
      },
    });
    try {
      await sim.waitFor((s) => s.every((d) => d.device?.healthy === true), 180_000);
      await sleep(2000);
      const killedAt = performance.now();
      await cluster.kill(1);
      const until = killedAt + 120_000;
      while (connectedAt.some((c) => !c.some((t) => t > killedAt))) {
        if (performance.now() > until) throw new Error("not every device reconnected within 120 s of the kill");
        await sleep(20);
      }
      const times = connectedAt.map((c) => c.find((t) => t > killedAt)! - killedAt).sort((a, b) => a - b);
      const max = times[times.length - 1];
      const p50 = times[Math.floor(times.length / 2)];
      const bound = { peer: `backoff bound (first delay ceiling ${BACKOFF_BOUND_MS} ms)`, peer_value: BACKOFF_BOUND_MS, engine: "xs" as const, devices };
      emit({ metric: `failover_all_reconnected_${devices}_devices`, unit: "ms", mote: max, ...bound, ratio: BACKOFF_BOUND_MS / max });
      emit({ metric: `failover_reconnected_p50_${devices}_devices`, unit: "ms", mote: p50, ...bound, ratio: BACKOFF_BOUND_MS / p50 });
    } finally {
      await sim.stop();
    }
  } finally {
    await cluster.stop();
  }
}
