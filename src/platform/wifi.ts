/**
 * WiFi station over the ECMA-419 network interface that Moddable SDK 8 ships
 * for the ESP32, `embedded:network/interface/wifi`
 * ($MODDABLE/modules/io/wifi/esp32/wifi-esp32.{js,c}; on lin/mac/win the
 * stand-in boards/desktop/wifi.js, in Node and the simulator
 * host-shim/node/wifi.ts — the same class everywhere).
 *
 * What that API gives, read from wifi-esp32.c:
 * - `new WiFi({ onChanged })` starts the radio (esp_wifi_init/start) if no one
 *   did; `connect({ SSID, password })` makes one attempt (esp_wifi_connect) and
 *   never retries by itself — mote's supervisor decides when to try again.
 * - `onChanged("connection" | "address")` says a state changed; the state is
 *   the `connection` getter (xs_wifi419_connection_get): 200 disconnected,
 *   300 connecting, 400 associated without an address, 500 with one.
 * - `address`, `MAC`, `SSID`, `RSSI` are getters (esp_netif_get_ip_info,
 *   esp_wifi_get_mac, esp_wifi_sta_get_ap_info); RSSI and SSID are undefined
 *   while not associated.
 * - No disconnect reason: WIFI_EVENT_STA_DISCONNECTED's `reason`
 *   (wifi_err_reason_t) is not passed on (doWiFiEvent keeps only the event id).
 *
 * So mote's reasons come from what the state did, and from a scan:
 * - "lost-link": the connection fell from 500 (or 400) — it was associated.
 * - a join that ends at 200 without ever reaching 400: the interface is asked
 *   to `scan()`; the SSID not on the air → "no-ap"; on the air with security
 *   other than "none" → "wrong-password" (a rejected WPA handshake: ESP-IDF's
 *   AUTH_FAIL / 4WAY_HANDSHAKE_TIMEOUT, which the API does not pass); on the air
 *   and open, or the scan failing → "unknown".
 * - "closed": mote closed the station itself (close()), reported by no event.
 */
import WiFi from "embedded:network/interface/wifi";
import { systemFreeMemory } from "./memory.js";
import { MoteError } from "../errors.js";
import { clearTimer, setTimer, type TimerHandle } from "./timer.js";

export type WifiDisconnectReason = "wrong-password" | "no-ap" | "lost-link" | "closed" | "unknown";
export type WifiEvent =
  | { type: "connecting" }
  | { type: "connected" }
  | { type: "got-ip"; address: string }
  | { type: "disconnected"; reason: WifiDisconnectReason };

// IEEE 802.11 SSID: 0..32 octets; WPA2 passphrase: 8..63 characters (or none).
const MAX_SSID = 32;
const MAX_PASSWORD = 64;

/** `connection` values of the interface (wifi-esp32.c xs_wifi419_connection_get). */
export const WIFI_DISCONNECTED = 200;
export const WIFI_CONNECTING = 300;
export const WIFI_ASSOCIATED = 400;
export const WIFI_ONLINE = 500;

/** Longest wait for the scan that explains a failed join; then the reason is "unknown". */
const SCAN_LIMIT_MS = 10_000;

/**
 * Why a join failed, from a scan of the air: `seen` is the security of the
 * configured SSID's access point when the scan found it, undefined when not.
 */
export function joinFailureReason(seen: string | undefined): WifiDisconnectReason {
  if (seen === undefined) return "no-ap";
  return seen === "none" ? "unknown" : "wrong-password";
}

/** The station mote has open, read by `wifiInfo()` (a module-level `let`: preloaded objects are read-only). */
let current: WiFi | undefined;

export function connectWifi(options: { ssid: string; password?: string; onEvent(event: WifiEvent): void }): {
  close(): void;
} {
  const { ssid, password, onEvent } = options;
  if (typeof ssid !== "string" || ssid.length === 0 || ssid.length > MAX_SSID)
    throw new MoteError("invalid-argument", `ssid must be 1..${MAX_SSID} characters`);
  if (password !== undefined && (typeof password !== "string" || password.length > MAX_PASSWORD))
    throw new MoteError("invalid-argument", `password must be at most ${MAX_PASSWORD} characters`);
  let closed = false;
  let last = WIFI_DISCONNECTED; // the connection value last acted on
  let address = "";
  let associated = false; // reached 400 in this attempt
  let lossReported = false; // 500 -> 400 went out as lost-link; the 200 after it is the same loss
  let scanGuard: TimerHandle | undefined;
  const emit = (event: WifiEvent) => {
    if (!closed) onEvent(event);
  };

  const explainFailure = () => {
    // One scan; its callbacks hold no list, only whether the SSID was seen.
    let seen: string | undefined;
    let done = false;
    const finish = (reason: WifiDisconnectReason) => {
      if (done) return;
      done = true;
      clearTimer(scanGuard);
      scanGuard = undefined;
      emit({ type: "disconnected", reason });
    };
    scanGuard = setTimer(() => finish("unknown"), SCAN_LIMIT_MS);
    try {
      station.scan({
        onFound(ap) {
          if (ap !== undefined && ap !== null && ap.SSID === ssid && seen !== "none") seen = String(ap.security);
        },
        onComplete() {
          finish(joinFailureReason(seen));
        },
      });
    } catch {
      finish("unknown"); // radio busy scanning for someone else
    }
  };

  const onChanged = () => {
    if (closed) return;
    let now: number;
    try {
      now = Number(station.connection);
    } catch {
      return;
    }
    if (now >= WIFI_ASSOCIATED && last < WIFI_ASSOCIATED) {
      associated = true;
      lossReported = false;
      emit({ type: "connected" });
    }
    if (now === WIFI_ONLINE) {
      const a = readAddress(station);
      // Entering 500, or a new address while in it ("address" changed: DHCP renewal, static IP).
      if (last !== WIFI_ONLINE || a !== address) {
        address = a;
        emit({ type: "got-ip", address });
      }
    } else if (now === WIFI_ASSOCIATED && last === WIFI_ONLINE) {
      // The address went while still associated: the network is gone for mote.
      address = "";
      lossReported = true;
      emit({ type: "disconnected", reason: "lost-link" });
    } else if (now <= WIFI_DISCONNECTED && last > WIFI_DISCONNECTED) {
      address = "";
      if (associated || last >= WIFI_ASSOCIATED) {
        if (!lossReported) emit({ type: "disconnected", reason: "lost-link" });
        lossReported = false;
      } else explainFailure();
      associated = false;
    }
    last = now;
  };

  const station = new WiFi({ onChanged });
  current = station;
  setTimer(() => emit({ type: "connecting" }), 0);
  try {
    station.connect(password === undefined || password === "" ? { SSID: ssid } : { SSID: ssid, password });
    last = Math.max(WIFI_CONNECTING, Number(station.connection) || WIFI_CONNECTING);
  } catch (e) {
    closed = true;
    if (current === station) current = undefined;
    station.close();
    throw new MoteError("wifi", e instanceof Error ? e.message : String(e));
  }
  return {
    close(): void {
      if (closed) return;
      closed = true;
      clearTimer(scanGuard);
      scanGuard = undefined;
      if (current === station) current = undefined;
      try {
        station.disconnect();
      } catch {
        // already disconnected
      }
      station.close();
    },
  };
}

function readAddress(station: WiFi): string {
  try {
    const a = station.address;
    return a === undefined || a === null ? "" : String(a);
  } catch {
    return "";
  }
}

/** Read at every telemetry record (the RSSI): constants, not literals (src/mqtt/names.ts says why). */
const RSSI = "RSSI";
const NO_TEXT = "";

function read<T>(station: WiFi, what: "MAC" | "SSID" | "RSSI"): T | undefined {
  try {
    const v = station[what] as unknown;
    return v === undefined || v === null || v === NO_TEXT ? undefined : (v as T);
  } catch {
    return undefined;
  }
}

/**
 * The station's MAC, address, signal and network, from the interface's getters.
 * With no station open (at boot, for the device id), a WiFi object is made for
 * the read and closed again: on the ESP32 that starts the radio, which has the
 * factory MAC from then on.
 */
export function wifiInfo(): { ip?: string; mac: string; rssi?: number; ssid?: string } {
  const own = current === undefined;
  const station = current ?? new WiFi({});
  try {
    const info: { ip?: string; mac: string; rssi?: number; ssid?: string } = { mac: read<string>(station, "MAC") ?? "" };
    if (Number(station.connection) === WIFI_ONLINE) {
      const ip = readAddress(station);
      if (ip !== "" && ip !== "0.0.0.0") info.ip = ip;
    }
    const rssi = read<number>(station, "RSSI");
    if (typeof rssi === "number" && rssi !== 0) info.rssi = rssi;
    const ssid = read<string>(station, "SSID");
    if (ssid !== undefined) info.ssid = ssid;
    return info;
  } finally {
    if (own) station.close();
  }
}

/** The open station's signal strength (dBm), or undefined: no strings made, unlike wifiInfo() (telemetry reads it every period). */
export function wifiRssi(): number | undefined {
  if (current === undefined) return undefined;
  const rssi = read<number>(current, RSSI);
  return Number.isFinite(rssi) && rssi !== 0 ? rssi : undefined;
}

/**
 * Free heap bytes where the host tells: the simulator/desktop twin of `net`
 * answers Net.get("FREE_HEAP"); Moddable's device build has no such query
 * without the instrumentation module, so this is undefined there.
 */
export function freeMemory(): number | undefined {
  return systemFreeMemory();
}
