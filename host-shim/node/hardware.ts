/**
 * The simulated board shared by the Node twins of the host modules.
 *
 * Tests and the simulator configure it with `configureHardware(...)`:
 * - `stateDir`: where `preference` keeps one JSON file per domain (written
 *   atomically: temp file + rename), like NVS surviving a reboot;
 * - `networks`: the WiFi access points in range (ssid, password, rssi);
 * - `mac`, `ip`: the station's addresses.
 * `dropWifi()` takes the link down (the access point vanishes: every WiFi
 * object's connection falls to 200). `closeAllHandles()` closes every host object the twins
 * opened (sockets, listeners, timers) — the XS engine calls it on close.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SimulatedNetwork {
  ssid: string;
  password?: string;
  rssi?: number;
}

export interface HardwareOptions {
  stateDir?: string;
  networks?: SimulatedNetwork[];
  mac?: string;
  ip?: string;
  /** Milliseconds between `connect()` and association / failure, and from association to an address (default 5). */
  wifiDelayMs?: number;
  /** What Moddable's instrumentation reports as "System Free Memory" (default: not reported). */
  freeMemoryBytes?: number;
}

interface HardwareState {
  stateDir: string | undefined;
  networks: SimulatedNetwork[];
  mac: string;
  ip: string;
  wifiDelayMs: number;
  freeMemoryBytes: number | undefined;
}

const state: HardwareState = {
  stateDir: undefined,
  networks: [{ ssid: "mote-sim", password: "mote-sim-password", rssi: -52 }],
  mac: "24:0A:C4:00:00:01",
  ip: "127.0.0.1",
  wifiDelayMs: 5,
  freeMemoryBytes: undefined,
};

/** Listeners the wifi twin registers to hear about link drops. */
const linkListeners = new Set<(reason: "lost-link") => void>();

export function configureHardware(options: HardwareOptions): void {
  if (options.stateDir !== undefined) state.stateDir = options.stateDir;
  if (options.networks !== undefined) state.networks = options.networks.map((n) => ({ ...n }));
  if (options.mac !== undefined) state.mac = options.mac;
  if (options.ip !== undefined) state.ip = options.ip;
  if (options.wifiDelayMs !== undefined) state.wifiDelayMs = options.wifiDelayMs;
  if (options.freeMemoryBytes !== undefined) state.freeMemoryBytes = options.freeMemoryBytes;
}

/** The state directory, created on first use in the OS temp dir when not configured. */
export function stateDir(): string {
  if (state.stateDir === undefined) state.stateDir = mkdtempSync(join(tmpdir(), "mote-state-"));
  return state.stateDir;
}

export function hardware(): Readonly<HardwareState> {
  return state;
}

/** Drops the WiFi link: every connected station sees `disconnect` (lost link). */
export function dropWifi(): void {
  for (const listener of [...linkListeners]) listener("lost-link");
}

export function onLinkDrop(listener: (reason: "lost-link") => void): () => void {
  linkListeners.add(listener);
  return () => linkListeners.delete(listener);
}

// ---- open host objects ---------------------------------------------------

interface Closable {
  close(): void;
}
const openHandles = new Set<Closable>();

export function trackHandle(handle: Closable): void {
  openHandles.add(handle);
}

export function untrackHandle(handle: Closable): void {
  openHandles.delete(handle);
}

/** How many sockets/listeners/timers the twins hold open (for leak tests). */
export function openHandleCount(): number {
  return openHandles.size;
}

/** Closes every host object the twins opened. */
export function closeAllHandles(): void {
  for (const handle of [...openHandles]) {
    openHandles.delete(handle);
    try {
      handle.close();
    } catch {
      // closing is best effort: a handle that fails to close is already gone
    }
  }
}
