/** Text forms of a simulated device's status: the live line, and the JSON record. */
import type { SimDeviceStatus } from "./device.js";

export function kb(bytes: number | undefined): string {
  return bytes === undefined ? "-" : `${(bytes / 1024).toFixed(0)}K`;
}

/**
 * One status line:
 * `mote-sim-0 ● mote-026d6f000000 v1.0.0 · wifi up -52dBm · mqtt connected · in 3 out 41 · q 0 · esp32 slots≈52K · boot 1 · up 40s`.
 * The heap, for the default program: its slot heap on the ESP32's terms, estimated
 * (host-shim/sim/chip-heap.ts: the live slots minus those of the program's image,
 * which the chip keeps in flash, at 16 bytes a slot; chunks not counted; 1.4–2× what
 * Moddable's runtime counts for the same program, so an upper bound). For a program
 * whose image is not known (`--app`): `xsnap heap 412K`, xsnap's own slot heap
 * (32-byte slots, built-ins and image included), not an ESP32 figure.
 * docs/simulator.md, "Output".
 */
export function heapText(s: SimDeviceStatus): string {
  return s.esp32SlotBytes !== undefined ? `esp32 slots≈${kb(s.esp32SlotBytes)}` : `xsnap heap ${kb(s.xsHeapBytes)}`;
}

export function statusLine(s: SimDeviceStatus): string {
  const d = s.device;
  if (d === undefined) return `${s.name} ${s.state}${s.lastError ? ` (${s.lastError})` : ""}`;
  const mark = d.healthy ? "●" : "○";
  const wifi = `wifi ${d.wifi.state}${d.wifi.reason ? `(${d.wifi.reason})` : ""}${d.wifi.rssi !== undefined ? ` ${d.wifi.rssi}dBm` : ""}`;
  const mqtt = `mqtt ${d.mqtt.state}${d.mqtt.reason && d.mqtt.state !== "connected" ? `(${d.mqtt.reason})` : ""}`;
  const c = d.counters;
  return (
    `${s.name} ${mark} ${d.id}${d.version !== undefined ? ` v${d.version}` : ""} · ${wifi} · ${mqtt} · in ${c.msgsIn} out ${c.msgsOut}` +
    `${c.msgsDropped > 0 ? ` drop ${c.msgsDropped}` : ""} · q ${d.queueDepth} · ${heapText(s)} · boot ${s.boots} · up ${(d.uptimeMs / 1000).toFixed(0)}s`
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
    esp32SlotBytes: s.esp32SlotBytes,
    esp32SlotPeakBytes: s.esp32SlotPeakBytes,
    error: s.lastError,
  };
}
