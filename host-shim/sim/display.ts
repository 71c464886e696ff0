/** Text forms of a simulated device's status: the live line, and the JSON record. */
import type { SimDeviceStatus } from "./device.js";

export function kb(bytes: number | undefined): string {
  return bytes === undefined ? "-" : `${(bytes / 1024).toFixed(0)}K`;
}

/**
 * One status line:
 * `mote-sim-0 ● mote-026d6f000000 v1.0.0 · wifi up -52dBm · mqtt connected · in 3 out 41 · q 0 · xsnap heap 412K · boot 1 · up 40s`.
 * The heap is the xsnap engine's slot heap after a collection (32-byte slots of a
 * 64-bit host, strings and buffers not counted): how the program's use changes over
 * a run, not what an ESP32 would count (16-byte slots plus chunks; `npm run bench --
 * moddable` measures that on Moddable's runtime). docs/simulator.md, "Output".
 */
export function statusLine(s: SimDeviceStatus): string {
  const d = s.device;
  if (d === undefined) return `${s.name} ${s.state}${s.lastError ? ` (${s.lastError})` : ""}`;
  const mark = d.healthy ? "●" : "○";
  const wifi = `wifi ${d.wifi.state}${d.wifi.reason ? `(${d.wifi.reason})` : ""}${d.wifi.rssi !== undefined ? ` ${d.wifi.rssi}dBm` : ""}`;
  const mqtt = `mqtt ${d.mqtt.state}${d.mqtt.reason && d.mqtt.state !== "connected" ? `(${d.mqtt.reason})` : ""}`;
  const c = d.counters;
  return (
    `${s.name} ${mark} ${d.id}${d.version !== undefined ? ` v${d.version}` : ""} · ${wifi} · ${mqtt} · in ${c.msgsIn} out ${c.msgsOut}` +
    `${c.msgsDropped > 0 ? ` drop ${c.msgsDropped}` : ""} · q ${d.queueDepth} · xsnap heap ${kb(s.xsHeapBytes)} · boot ${s.boots} · up ${(d.uptimeMs / 1000).toFixed(0)}s`
  );
}

/** The `--json` record of one device. */
export function statusJson(s: SimDeviceStatus): Record<string, unknown> {
  const d = s.device;
  return {
    device: s.name,
    id: d?.id,
    version: d?.version,
    state: s.state,
    healthy: d?.healthy ?? false,
    boots: s.boots,
    wifi: d?.wifi,
    mqtt: d?.mqtt,
    queueDepth: d?.queueDepth,
    counters: d?.counters,
    uptimeMs: d?.uptimeMs,
    xsHeapBytes: s.xsHeapBytes,
    xsHeapPeakBytes: s.xsHeapPeakBytes,
    error: s.lastError,
  };
}
