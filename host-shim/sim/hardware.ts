/**
 * Simulated hardware of one device: its radio (WiFi station), MAC, and
 * preference store, served to that device's XS engine as the host modules
 * "embedded:network/interface/wifi", "net" and "preference" (per-engine `hostModules`).
 *
 * Why not the process-wide Node twins alone: host-shim/node/ models one board
 * per process (one station, one MAC, one preference folder). Several engines in
 * one process — a fleet, or a device rebooting while the old engine's station
 * is still "connected" — would then kick each other off the network. Here every
 * device has its own radio, made by the twin's `createStation` (host-shim/node/wifi.ts):
 * the ECMA-419 interface of the ESP32 (connection 200/300/400/500, no
 * disconnect reason, scan), over the air space the devices share.
 * The preference files use the twin's format (one JSON file per domain under
 * `<stateDir>/preferences/`, written atomically), so `--state` folders are
 * interchangeable. Flash/OTA stay with the process-wide twins.
 */
import { join } from "node:path";
import { configureHardware } from "../node/hardware.js";
import NodeNet from "../node/net.js";
import type { SimHardware } from "./device.js";
import { createPreferenceStore } from "../node/preference.js";
import { createStation } from "../node/wifi.js";

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
  /** The networks on the air now (what a scan finds). */
  visible(now = Date.now()): WifiNetwork[] {
    return this.#networks.filter((n) => (this.#downUntil.get(n.ssid) ?? 0) <= now);
  }
  /** Takes `ssid` off the air until `until` (ms since the epoch). */
  down(ssid: string, until: number): void {
    this.#downUntil.set(ssid, Math.max(this.#downUntil.get(ssid) ?? 0, until));
  }
}

const WIFI_DELAY_MS = 5;

export function createHardware(options: { stateDir: string; mac: string; air: AirSpace; ssid: string }): SimHardware & { readonly mac: string } {
  const { stateDir, mac, air } = options;
  const station = createStation({
    find: (ssid) => air.find(ssid),
    visible: () => air.visible(),
    delayMs: () => WIFI_DELAY_MS,
    ip: () => "127.0.0.1",
    mac: () => mac,
  });

  const Net = {
    get(what: string): unknown {
      const link = station.status();
      switch (what) {
        case "IP":
          return link.connected ? "127.0.0.1" : "";
        case "MAC":
          return mac;
        case "SSID":
          return link.connected ? link.ssid : "";
        case "RSSI":
          return link.connected ? link.rssi : 0;
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
      // Power on: the radio starts disassociated; old objects belong to a dead engine.
      station.reset();
      return {
        "embedded:network/interface/wifi": { default: station.WiFi },
        net: { default: Net },
        preference: { default: Preference },
      };
    },
    dropWifi(durationMs: number) {
      air.down(options.ssid, Date.now() + durationMs);
      station.drop();
    },
    close() {
      station.reset();
    },
  };
}

/** Points the process-wide twins (flash, OTA) at a state folder: one board per process. */
export function configureSharedHardware(stateDir: string): void {
  configureHardware({ stateDir });
}
