/** Text forms of a simulated device's status: the live line, and the JSON record. */
import type { SimDeviceStatus } from "./device.js";

export function kb(bytes: number | undefined): string {
  return bytes === undefined ? "-" : `${(bytes / 1024).toFixed(0)}K`;
}

/** One status line: `mote-sim-0 ● wifi up -52dBm · mqtt connected · in 3 out 41 · q 0 · xs 412K · boot 1`. */
export function statusLine(s: SimDeviceStatus): string {
  const d = s.device;
  if (d === undefined) return `${s.name} ${s.state}${s.lastError ? ` (${s.lastError})` : ""}`;
  const mark = d.healthy ? "●" : "○";
  const wifi = `wifi ${d.wifi.state}${d.wifi.reason ? `(${d.wifi.reason})` : ""}${d.wifi.rssi !== undefined ? ` ${d.wifi.rssi}dBm` : ""}`;
  const mqtt = `mqtt ${d.mqtt.state}${d.mqtt.reason && d.mqtt.state !== "connected" ? `(${d.mqtt.reason})` : ""}`;
  const c = d.counters;
  return (
    `${s.name} ${mark} ${d.id} · ${wifi} · ${mqtt} · in ${c.msgsIn} out ${c.msgsOut}` +
    `${c.msgsDropped > 0 ? ` drop ${c.msgsDropped}` : ""} · q ${d.queueDepth} · xs ${kb(s.xsHeapBytes)} · boot ${s.boots} · up ${(d.uptimeMs / 1000).toFixed(0)}s`
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
