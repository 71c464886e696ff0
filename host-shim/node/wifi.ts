/**
 * Node twin of Moddable's `wifi` module, station mode, over the simulated
 * networks of hardware.ts: `new WiFi({ ssid, password }, callback)` reports
 * "connect" then "gotIP" for a known network with the right password;
 * "disconnect" with reason -1 (authentication failed) for a wrong password,
 * 201 (no AP found) for an unknown ssid; `dropWifi()` gives "lostIP" then
 * "disconnect" with 200 (beacon timeout). `close()` stops the callbacks;
 * `WiFi.disconnect()` leaves the network (reason 8).
 */
import { hardware, onLinkDrop, trackHandle, untrackHandle } from "./hardware.js";

type Callback = (message: string, value?: number) => void;

const station = { connected: false, ssid: "", rssi: 0 };
const monitors = new Set<WiFi>();

/** What `net` reports: the simulated station's link. */
export function stationStatus(): { connected: boolean; ssid: string; rssi: number } {
  return { ...station };
}

function broadcast(message: string, value?: number): void {
  for (const m of [...monitors]) m.notify(message, value);
}

let linkWatch: (() => void) | undefined;
function watchLink(): void {
  linkWatch ??= onLinkDrop(() => {
    if (!station.connected) return;
    station.connected = false;
    broadcast("lostIP");
    broadcast("disconnect", 200);
  });
}

export default class WiFi {
  static readonly gotIP = "gotIP";
  static readonly lostIP = "lostIP";
  static readonly connected = "connect";
  static readonly disconnected = "disconnect";
  static readonly Mode = { off: -5, none: 0, station: 1, accessPoint: 2 };
  static mode = 1;

  #callback: Callback | undefined;
  #closer = { close: () => this.close() };

  constructor(options?: { ssid: string; password?: string }, callback?: Callback) {
    this.#callback = callback;
    monitors.add(this);
    trackHandle(this.#closer);
    watchLink();
    if (options !== undefined) WiFi.connect(options);
  }

  /** Internal: delivers one status message to this monitor. */
  notify(message: string, value?: number): void {
    this.#callback?.(message, value);
  }

  close(): void {
    this.#callback = undefined;
    monitors.delete(this);
    untrackHandle(this.#closer);
  }

  static connect(options?: { ssid: string; password?: string }): void {
    if (options === undefined) return;
    const ssid = String(options.ssid);
    const password = options.password ?? "";
    const delay = hardware().wifiDelayMs;
    if (station.connected) {
      station.connected = false;
      broadcast("disconnect", 8);
    }
    setTimeout(() => {
      const network = hardware().networks.find((n) => n.ssid === ssid);
      if (network === undefined) return broadcast("disconnect", 201);
      if ((network.password ?? "") !== password) return broadcast("disconnect", -1);
      station.connected = true;
      station.ssid = ssid;
      station.rssi = network.rssi ?? -60;
      broadcast("connect");
      setTimeout(() => {
        if (station.connected && station.ssid === ssid) broadcast("gotIP");
      }, delay);
    }, delay);
  }

  static disconnect(): void {
    if (!station.connected) return;
    station.connected = false;
    broadcast("disconnect", 8);
  }

  static scan(_options: unknown, callback: (item: { ssid: string; rssi: number; authentication: string } | null) => void): void {
    setTimeout(() => {
      for (const n of hardware().networks)
        callback({ ssid: n.ssid, rssi: n.rssi ?? -60, authentication: n.password ? "wpa2_psk" : "none" });
      callback(null);
    }, hardware().wifiDelayMs);
  }
}
