/**
 * Simulated hardware of one device: its radio (WiFi station), MAC, and
 * preference store, served to that device's XS engine as the host modules
 * "wifi", "net" and "preference" (per-engine `hostModules`).
 *
 * Why not the process-wide Node twins alone: host-shim/node/ models one board
 * per process (one station, one MAC, one preference folder). Several engines in
 * one process — a fleet, or a device rebooting while the old engine's station
 * is still "connected" — would then kick each other off the network. Here every
 * device has its own station with the same Moddable API and reason codes as the
 * twin (host-shim/node/wifi.ts): "connect", "gotIP", "lostIP", "disconnect"
 * with -1 (authentication failed), 201 (no AP), 200 (beacon timeout), 8 (left).
 * The preference files use the twin's format (one JSON file per domain under
 * `<stateDir>/preferences/`, written atomically), so `--state` folders are
 * interchangeable. Flash/OTA stay with the process-wide twins.
 */
import { join } from "node:path";
import { configureHardware } from "../node/hardware.js";
import NodeNet from "../node/net.js";
import type { SimHardware } from "./device.js";
import { createPreferenceStore } from "../node/preference.js";

export interface WifiNetwork {
  ssid: string;
  password: string;
  rssi: number;
}

/** The access points in range, shared by the devices of one simulation. */
export class AirSpace {
  #networks: WifiNetwork[];
  readonly #downUntil = new Map<string, number>();
  constructor(networks: WifiNetwork[]) {
    this.#networks = networks.map((n) => ({ ...n }));
  }
  find(ssid: string, now = Date.now()): WifiNetwork | undefined {
    const n = this.#networks.find((x) => x.ssid === ssid);
    if (n === undefined) return undefined;
    return (this.#downUntil.get(ssid) ?? 0) > now ? undefined : n;
  }
  /** Takes `ssid` off the air until `until` (ms since the epoch). */
  down(ssid: string, until: number): void {
    this.#downUntil.set(ssid, Math.max(this.#downUntil.get(ssid) ?? 0, until));
  }
}

type Callback = (message: string, value?: number) => void;

const WIFI_DELAY_MS = 5;

export function createHardware(options: { stateDir: string; mac: string; air: AirSpace; ssid: string }): SimHardware & { readonly mac: string } {
  const { stateDir, mac, air } = options;
  const station = { connected: false, ssid: "", rssi: 0, generation: 0 };
  const monitors = new Set<{ notify: Callback }>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (f: () => void, ms: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, ms);
    timers.add(t);
  };
  const broadcast = (message: string, value?: number) => {
    for (const m of [...monitors]) m.notify(message, value);
  };
  const leave = (reason: number) => {
    if (!station.connected) return;
    station.connected = false;
    station.generation++;
    broadcast("disconnect", reason);
  };
  const connect = (o: { ssid: string; password?: string } | undefined) => {
    if (o === undefined) return;
    const ssid = String(o.ssid);
    const password = o.password ?? "";
    leave(8);
    const generation = ++station.generation;
    later(() => {
      if (generation !== station.generation) return; // superseded
      const network = air.find(ssid);
      if (network === undefined) return broadcast("disconnect", 201);
      if (network.password !== password) return broadcast("disconnect", -1);
      Object.assign(station, { connected: true, ssid, rssi: network.rssi });
      broadcast("connect");
      later(() => {
        if (station.connected && station.generation === generation) broadcast("gotIP");
      }, WIFI_DELAY_MS);
    }, WIFI_DELAY_MS);
  };

  class WiFi {
    static readonly gotIP = "gotIP";
    static readonly lostIP = "lostIP";
    static readonly connected = "connect";
    static readonly disconnected = "disconnect";
    static readonly Mode = { off: -5, none: 0, station: 1, accessPoint: 2 };
    static mode = 1;
    #monitor: { notify: Callback } | undefined;
    constructor(o?: { ssid: string; password?: string }, callback?: Callback) {
      const monitor = { notify: (m: string, v?: number) => callback?.(m, v) };
      this.#monitor = monitor;
      monitors.add(monitor);
      if (o !== undefined) connect(o);
    }
    close(): void {
      if (this.#monitor !== undefined) monitors.delete(this.#monitor);
      this.#monitor = undefined;
    }
    static connect(o?: { ssid: string; password?: string }): void {
      connect(o);
    }
    static disconnect(): void {
      leave(8);
    }
  }

  const Net = {
    get(what: string): unknown {
      switch (what) {
        case "IP":
          return station.connected ? "127.0.0.1" : "";
        case "MAC":
          return mac;
        case "SSID":
          return station.connected ? station.ssid : "";
        case "RSSI":
          return station.connected ? station.rssi : 0;
      }
      return (NodeNet.get as (w: string) => unknown)(what);
    },
    resolve: NodeNet.resolve,
  };

  const preferenceDir = join(stateDir, "preferences");
  const Preference = createPreferenceStore(() => preferenceDir);

  return {
    mac,
    modules: () => {
      // Power on: the radio starts disassociated; old monitors belong to a dead engine.
      for (const t of timers) clearTimeout(t);
      timers.clear();
      monitors.clear();
      Object.assign(station, { connected: false, ssid: "", rssi: 0, generation: station.generation + 1 });
      return { wifi: { default: WiFi }, net: { default: Net }, preference: { default: Preference } };
    },
    dropWifi(durationMs: number) {
      air.down(options.ssid, Date.now() + durationMs);
      if (!station.connected) return;
      station.connected = false;
      station.generation++;
      broadcast("lostIP");
      broadcast("disconnect", 200);
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      monitors.clear();
    },
  };
}

/** Points the process-wide twins (flash, OTA) at a state folder: one board per process. */
export function configureSharedHardware(stateDir: string): void {
  configureHardware({ stateDir });
}
