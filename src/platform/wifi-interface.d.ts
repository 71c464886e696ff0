// The ECMA-419 network interface Moddable SDK 8 ships for the ESP32 as
// "embedded:network/interface/wifi" ($MODDABLE/modules/io/wifi/esp32/wifi-esp32.js
// and wifi-esp32.c); @moddable/typings has no declaration for it. The desktop
// stand-in (boards/desktop/wifi.js) and the Node twin (host-shim/node/wifi.ts)
// have the same shape.
declare module "embedded:network/interface/wifi" {
  export interface AccessPoint {
    SSID: string;
    BSSID: string;
    RSSI: number;
    channel: number;
    /** "none" | "wep" | "wpa_psk" | "wpa2_psk" | "wpa_wpa2_psk" | "wpa2_enterprise" | "wpa3_psk" | "wpa2_wpa3_psk" | "unknown" */
    security: string;
  }
  export default class WiFi {
    /** `onChanged(property)` is called with "connection" or "address"; `this` is the WiFi object. */
    constructor(options: { onChanged?(this: WiFi, property: "connection" | "address"): void });
    /** Throws "already connecting" while a connect is pending. */
    connect(options: { SSID: string; password?: string; channel?: number }): void;
    disconnect(): void;
    /** One scan at a time for the whole radio ("already scanning"). */
    scan(options: { channel?: number; onFound(this: WiFi, ap: AccessPoint): void; onComplete?(this: WiFi): void }): void;
    configure(options: { hostname?: string; static?: false | { address: string; mask: string; gateway: string } }): void;
    close(): void;
    /** 200 disconnected, 300 connecting, 400 associated (no address yet), 500 associated with an address. */
    readonly connection: number;
    readonly address: string | undefined;
    readonly MAC: string | undefined;
    readonly SSID: string | undefined;
    readonly BSSID: string | undefined;
    readonly RSSI: number | undefined;
    readonly channel: number | undefined;
  }
}
