/**
 * Node twin of Moddable's `net` module: `Net.get("IP" | "MAC" | "SSID" |
 * "BSSID" | "RSSI" | "DNS")` answers from the simulated hardware — the IP and
 * SSID only while the simulated station is connected (empty otherwise, as
 * on the device). Free memory is
 * the `instrumentation` twin's.
 */
import { hardware } from "./hardware.js";
import { stationStatus } from "./wifi.js";

const Net = {
  get(what: string): string | number | string[] | undefined {
    const station = stationStatus();
    switch (what) {
      case "IP":
        return station.connected ? hardware().ip : "";
      case "MAC":
        return hardware().mac;
      case "SSID":
        return station.connected ? station.ssid : "";
      case "BSSID":
        return station.connected ? "02:00:00:00:00:01" : "";
      case "RSSI":
        return station.connected ? station.rssi : 0;
      case "DNS":
        return ["127.0.0.53"];
    }
    return undefined;
  },
  resolve(name: string, callback: (name: string, address?: string) => void): void {
    import("node:dns").then(({ lookup }) =>
      lookup(name, { family: 4 }, (error, address) => callback(name, error === null ? address : undefined)),
    );
  },
};

export default Net;
