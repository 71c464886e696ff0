/**
 * `npm run soak -- [--count N] [--broker-restarts B] [--wifi-drops W] [--power-cuts P] [--floods F]
 *                  [--flood-rate R] [--flood-ms MS] [--down-ms MS] [--rate R] [--coap-requests N]
 *                  [--seed S] [--json] [--only mqtt|coap]`
 *
 * The long chaos soak (defaults: 10,000 QoS 1 + 10,000 QoS 2 messages, 5
 * broker restarts, 5 WiFi drops, 2 power cuts, 1 flood at 10,000 msg/s for
 * 5 s; CoAP: 1,000 CON requests + 5 minutes of observe under 30% loss both
 * ways). soak/run.mjs bundles this file with esbuild (like bench/run.mjs) and
 * runs it; it needs mosquitto on PATH (or /usr/sbin/mosquitto).
 * Prints one table row per test (the format of bench/RESULTS-reliability.md)
 * and exits 1 if a target is missed: anything lost, a QoS 2 duplicate, a
 * crash, a request that never completed, the XS heap more than 5% above its start.
 */
import { runCoapLoss } from "./coap-loss.js";
import { runMqttChaos } from "./mqtt-chaos.js";

function parse(argv: string[]): Record<string, string | true> {
  const o: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (name === "json") o[name] = true;
    else o[name] = eq > 0 ? a.slice(eq + 1) : argv[++i] ?? "";
  }
  return o;
}

function num(o: Record<string, string | true>, name: string, dflt: number): number {
  const v = o[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`);
  return n;
}

const fmt = (n: number | undefined) => (n === undefined ? "-" : Math.round(n).toLocaleString("en-US"));

export async function main(argv: string[]): Promise<number> {
  const o = parse(argv);
  const json = o.json === true;
  const only = typeof o.only === "string" ? o.only : undefined;
  const seed = num(o, "seed", 1);
  const command = `npm run soak${argv.length ? ` -- ${argv.join(" ")}` : ""}`;
  let bad = 0;
  const rows: string[] = [];
  if (only === undefined || only === "mqtt") {
    const count = num(o, "count", 10_000);
    const opts = {
      count,
      rate: num(o, "rate", 0),
      brokerRestarts: num(o, "broker-restarts", 5),
      wifiDrops: num(o, "wifi-drops", 5),
      powerCuts: num(o, "power-cuts", 2),
      floods: num(o, "floods", 1),
      floodRate: num(o, "flood-rate", 10_000),
      floodMs: num(o, "flood-ms", 5000),
      downMs: num(o, "down-ms", 1000),
      seed,
      log: (l: string) => {
        if (!json) console.error(`  ${l}`);
      },
    };
    if (!json) console.error(`mqtt chaos: ${count} QoS 1 + ${count} QoS 2, ${opts.brokerRestarts} broker restarts, ${opts.wifiDrops} WiFi drops, ${opts.powerCuts} power cuts, ${opts.floods} flood(s)`);
    const r = await runMqttChaos(opts);
    const heapOk = r.heapStartBytes !== undefined && r.heapEndBytes !== undefined && r.heapEndBytes <= r.heapStartBytes * 1.05;
    const ok = r.complete && r.lost.qos1 === 0 && r.lost.qos2 === 0 && r.duplicated.qos2 === 0 && r.crashes === 0 && heapOk;
    if (!ok) bad++;
    if (json) console.log(JSON.stringify({ test: "mqtt-chaos", ok, command, ...r }));
    rows.push(
      `| MQTT chaos (XS device, mosquitto persistence on) | ${fmt(count)} QoS 1 + ${fmt(count)} QoS 2, window 16 | ${opts.brokerRestarts} broker restarts, ${opts.wifiDrops} WiFi drops, ${opts.powerCuts} power cuts, ${opts.floods} flood ${fmt(opts.floodRate)} msg/s × ${opts.floodMs / 1000} s | QoS 1: ${r.lost.qos1}, QoS 2: ${r.lost.qos2} | QoS 1: ${r.duplicated.qos1} (allowed), QoS 2: ${r.duplicated.qos2} | ${r.crashes} | ${fmt(r.recoveryP50)} / ${fmt(r.recoveryP99)} ms | \`${command}\` |`,
    );
    if (r.flood) {
      rows.push(
        `| Flood during the MQTT chaos run | ${fmt(r.flood.sent)} QoS 0 messages pushed at the device at ${fmt(r.flood.offeredPerSecond)} msg/s (asked ${fmt(opts.floodRate)}) for ${opts.floodMs / 1000} s, QoS 1/2 telemetry going on | flood | telemetry: 0 (${r.flood.deltaAckedDuringFlood} telemetry messages acknowledged during the flood); flood: device took ${fmt(r.flood.received)} of ${fmt(r.flood.sent)} | - | ${r.crashes} | telemetry gap after the flood ${fmt(r.flood.gapAfterMs)} ms; XS heap peak ${fmt(r.flood.heapPeakBytes)} B | \`${command}\` |`,
      );
    }
    rows.push(
      `| XS heap over the MQTT chaos run | start of the boot that ran to the end (after warm-up) vs the end (all acknowledged) | all of the above (first boot: ${fmt(r.heapFirstBootBytes)} B) | - | - | - | ${fmt(r.heapStartBytes)} B → ${fmt(r.heapEndBytes)} B (${r.heapDeltaPct?.toFixed(1)}%, target ≤ +5%) | \`${command}\` |`,
    );
    if (!json) {
      console.error(`  faults: ${r.faults.map((f) => `${f.kind} ${f.recoveryMs === undefined ? "-" : Math.round(f.recoveryMs) + " ms"}`).join(", ")}`);
      console.error(`  boots ${r.boots}, device rejected ${r.deviceRejected}, ${Math.round(r.messagesPerSecond)} msg/s over ${Math.round(r.wallMs / 1000)} s`);
      if (r.flood) console.error(`  flood: sent ${fmt(r.flood.sent)}, device took ${fmt(r.flood.received)}, telemetry acked during flood ${r.flood.deltaAckedDuringFlood}, XS heap peak ${fmt(r.flood.heapPeakBytes)} B, telemetry gap after it ${fmt(r.flood.gapAfterMs)} ms`);
      console.error(`  XS heap: first boot after warm-up ${fmt(r.heapFirstBootBytes)} B; last boot after warm-up ${fmt(r.heapStartBytes)} B, at the end ${fmt(r.heapEndBytes)} B (${r.heapDeltaPct?.toFixed(1)}%)`);
      if (r.lost.qos1 || r.lost.qos2) console.error(`  lost samples: ${JSON.stringify(r.lostSamples)}`);
      if (r.duplicated.qos2) console.error(`  QoS 2 duplicates: ${JSON.stringify(r.dupSamples)}`);
    }
  }
  if (only === undefined || only === "coap") {
    const requests = num(o, "coap-requests", 1000);
    const r = runCoapLoss({ requests, observeMs: 300_000, loss: 0.3, seed });
    const ok = r.completed === requests && r.outOfOrder === 0 && r.duplicates === 0 && r.wrongPayload === 0;
    if (!ok) bad++;
    if (json) console.log(JSON.stringify({ test: "coap-loss", ok, command, ...r }));
    rows.push(
      `| CoAP under loss (endpoint cores, simulated time) | ${fmt(requests)} CON GETs + observe ${fmt(r.simulatedMs / 1000)} s simulated | 30% datagram loss both ways (${fmt(r.datagramsDropped)} of ${fmt(r.datagramsSent)} dropped) | requests: 0 (${r.retries} app retries after MAX_RETRANSMIT); notifications: ${r.notificationsSent - r.notificationsDelivered} of ${fmt(r.notificationsSent)} not delivered (NON lost; freshness kept) | ${r.duplicates} (out of order: ${r.outOfOrder}) | 0 | latency p50/p99 ${fmt(r.latencyP50)} / ${fmt(r.latencyP99)} ms simulated | \`${command}\` |`,
    );
  }
  console.log("| test | load | faults injected | lost | duplicated | crashes | recovery p50 / p99 | command |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
  return bad ? 1 : 0;
}
