/**
 * WiFi station over Moddable's `wifi` and `net` modules
 * (documentation/network/wifi.md): `new WiFi({ ssid, password }, callback)`
 * connects and reports `WiFi.connected` ("connect"), `WiFi.gotIP`,
 * `WiFi.lostIP` and `WiFi.disconnected` ("disconnect", with a reason value
 * where the port gives one). Reason values mapped here (esp_wifi
 * wifi_err_reason_t, as the ESP32 port and the desktop twin pass them):
 * -1 / 15 / 202 / 204 = authentication failed ("wrong-password"),
 * 201 = no AP found ("no-ap"), 8 = left on purpose ("closed"), anything else
 * after a connection = "lost-link", before one = "unknown".
 */
import WiFi from "wifi";
import Net from "net";
import { systemFreeMemory } from "./memory.js";
import { MoteError } from "../errors.js";
import { setTimer } from "./timer.js";

export type WifiDisconnectReason = "wrong-password" | "no-ap" | "lost-link" | "closed" | "unknown";
export type WifiEvent =
  | { type: "connecting" }
  | { type: "connected" }
  | { type: "got-ip"; address: string }
  | { type: "disconnected"; reason: WifiDisconnectReason };

// IEEE 802.11 SSID: 0..32 octets; WPA2 passphrase: 8..63 characters (or none).
const MAX_SSID = 32;
const MAX_PASSWORD = 64;

export function disconnectReason(code: unknown, wasConnected: boolean): WifiDisconnectReason {
  switch (code) {
    case -1:
    case 15:
    case 202:
    case 204:
      return "wrong-password";
    case 201:
      return "no-ap";
    case 8:
      return "closed";
  }
  return wasConnected ? "lost-link" : "unknown";
}

type Callback = (message: string, value?: unknown) => void;

export function connectWifi(options: { ssid: string; password?: string; onEvent(event: WifiEvent): void }): {
  close(): void;
} {
  const { ssid, password, onEvent } = options;
  if (typeof ssid !== "string" || ssid.length === 0 || ssid.length > MAX_SSID)
    throw new MoteError("invalid-argument", `ssid must be 1..${MAX_SSID} characters`);
  if (password !== undefined && (typeof password !== "string" || password.length > MAX_PASSWORD))
    throw new MoteError("invalid-argument", `password must be at most ${MAX_PASSWORD} characters`);
  let closed = false;
  let linked = false; // between "connect" and the next "disconnect"/"lostIP"
  let lostIpReported = false; // lostIP went out; the disconnect after it is the same loss
  const emit = (event: WifiEvent) => {
    if (!closed) onEvent(event);
  };
  setTimer(() => emit({ type: "connecting" }), 0);
  const callback: Callback = (message, value) => {
    if (closed) return;
    switch (message) {
      case "connect":
        linked = true;
        lostIpReported = false;
        emit({ type: "connected" });
        break;
      case "gotIP": {
        let address = "";
        try {
          address = String(Net.get("IP") ?? "");
        } catch {
          address = "";
        }
        emit({ type: "got-ip", address });
        break;
      }
      case "lostIP":
      case "disconnect": {
        const was = linked;
        linked = false;
        // lostIP and the disconnect that usually follows are one loss: report it once.
        if (message === "disconnect" && lostIpReported) {
          lostIpReported = false;
          break;
        }
        lostIpReported = message === "lostIP";
        emit({ type: "disconnected", reason: message === "lostIP" ? "lost-link" : disconnectReason(value, was) });
        break;
      }
    }
  };
  const wifi = new WiFi(
    password === undefined ? { ssid } : { ssid, password },
    callback as unknown as ConstructorParameters<typeof WiFi>[1],
  );
  return {
    close(): void {
      if (closed) return;
      closed = true;
      wifi.close();
      try {
        WiFi.disconnect();
      } catch {
        // already disconnected
      }
    },
  };
}

function read<T>(what: "IP" | "MAC" | "SSID" | "RSSI"): T | undefined {
  try {
    const v = (Net.get as (w: string) => unknown)(what);
    return v === undefined || v === null || v === "" ? undefined : (v as T);
  } catch {
    return undefined;
  }
}

export function wifiInfo(): { ip?: string; mac: string; rssi?: number; ssid?: string } {
  const info: { ip?: string; mac: string; rssi?: number; ssid?: string } = { mac: read<string>("MAC") ?? "" };
  const ip = read<string>("IP");
  if (ip !== undefined && ip !== "0.0.0.0") info.ip = ip;
  const rssi = read<number>("RSSI");
  if (typeof rssi === "number" && rssi !== 0) info.rssi = rssi;
  const ssid = read<string>("SSID");
  if (ssid !== undefined) info.ssid = ssid;
  return info;
}

/**
 * Free heap bytes where the host tells: the simulator/desktop twin of `net`
 * answers Net.get("FREE_HEAP"); Moddable's device build has no such query
 * without the instrumentation module, so this is undefined there.
 */
export function freeMemory(): number | undefined {
  return systemFreeMemory();
}
