/**
 * Node twin of `embedded:network/interface/wifi`, the ECMA-419 WiFi interface
 * Moddable SDK 8 ships for the ESP32 ($MODDABLE/modules/io/wifi/esp32/), over
 * the simulated networks of hardware.ts. It keeps the chip module's rules
 * (wifi-esp32.c), so the simulator runs what the board runs:
 * - one radio, many WiFi objects: every object hears every station event and
 *   keeps its own connecting/connected/address flags; `onChanged("connection")`
 *   only when its `connection` (200/300/400/500) changed, `"address"` when it
 *   first has an address;
 * - `connect()` is one attempt, no retry; a second one while this object is
 *   connecting throws "already connecting";
 * - a failed join (unknown SSID, wrong password) is a bare fall back to 200:
 *   no reason, as on the chip; `scan()` lists the networks on the air (one scan
 *   at a time per radio, "already scanning");
 * - `dropWifi()` (hardware.ts) is the access point vanishing: 500 -> 200.
 * `createStation()` is the radio itself; host-shim/sim/hardware.ts gives each
 * simulated device one of its own over a shared air space.
 */
import { hardware, onLinkDrop, trackHandle, untrackHandle, type SimulatedNetwork } from "./hardware.js";

type OnChanged = (this: unknown, property: "connection" | "address") => void;

export interface AccessPointInfo {
  SSID: string;
  BSSID: string;
  RSSI: number;
  channel: number;
  security: string;
}

/** What a radio can see and who it is. */
export interface Air {
  /** The network named `ssid` if it is on the air now. */
  find(ssid: string): SimulatedNetwork | undefined;
  /** Every network on the air now (what a scan finds). */
  visible(): SimulatedNetwork[];
  delayMs(): number;
  ip(): string;
  mac(): string;
}

/** Events of the radio, as the chip's event handlers post them (doWiFiEvent, doIPEvent). */
type StationEvent = "associated" | "got-ip" | "disconnected";

export interface Station {
  readonly WiFi: new (options?: { onChanged?: OnChanged }) => WiFiInterface;
  /** The access point vanished (beacons lost). */
  drop(): void;
  /** Power on: no link, no pending join or scan, old objects deaf. */
  reset(): void;
  status(): { connected: boolean; ssid: string; rssi: number };
}

export interface WiFiInterface {
  connect(options: { SSID: string; password?: string; channel?: number }): void;
  disconnect(): void;
  scan(options: { onFound(ap: AccessPointInfo): void; onComplete?(): void }): void;
  configure(options: unknown): void;
  close(): void;
  readonly connection: number;
  readonly address: string | undefined;
  readonly MAC: string | undefined;
  readonly SSID: string | undefined;
  readonly BSSID: string | undefined;
  readonly RSSI: number | undefined;
  readonly channel: number | undefined;
}

const CHANNEL = 6;
const BSSID = "02:00:00:00:00:01";

export function createStation(air: Air, hooks: { track?(o: { close(): void }): void; untrack?(o: { close(): void }): void } = {}): Station {
  const link = { up: false, online: false, ssid: "", rssi: 0, generation: 0 };
  const objects = new Set<Radio>();
  const timers = new Set<NodeJS.Timeout>();
  let scanner: Radio | undefined;
  const later = (f: () => void, ms: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, ms);
    timers.add(t);
  };
  const broadcast = (event: StationEvent) => {
    for (const o of [...objects]) o.deliver(event);
  };
  const leave = () => {
    const was = link.up;
    link.up = false;
    link.online = false;
    link.generation++;
    return was;
  };

  class Radio implements WiFiInterface {
    #onChanged: OnChanged | undefined;
    #connecting = false;
    #connected = false;
    #ip = false;
    #closed = false;
    #scan: { onFound(ap: AccessPointInfo): void; onComplete?(): void } | undefined;
    readonly #closer = { close: () => this.close() };

    constructor(options?: { onChanged?: OnChanged }) {
      const onChanged = options?.onChanged;
      if (onChanged !== undefined && onChanged !== null && typeof onChanged !== "function") throw new TypeError("not a function");
      this.#onChanged = onChanged ?? undefined;
      // xs_wifi419: an object made while the station is associated starts connected.
      this.#connected = link.up;
      this.#ip = link.online;
      objects.add(this);
      hooks.track?.(this.#closer);
    }

    /** Internal: one station event for this object (wifiConnectDeliver). */
    deliver(event: StationEvent): void {
      if (this.#closed) return;
      const before = this.connection;
      const hadIp = this.#ip;
      if (event === "associated") {
        this.#connecting = false;
        this.#connected = true;
        this.#ip = false;
      } else if (event === "disconnected") {
        this.#connecting = false;
        this.#connected = false;
        this.#ip = false;
      } else {
        this.#connected = true;
        this.#ip = true;
      }
      if (this.connection !== before) this.#onChanged?.call(this, "connection");
      if (!hadIp && this.#ip && !this.#closed) this.#onChanged?.call(this, "address");
    }

    /** Internal: the scan this object asked for finished. */
    scanned(): void {
      const scan = this.#scan;
      this.#scan = undefined;
      if (scan === undefined || this.#closed) return;
      for (const n of air.visible()) {
        try {
          scan.onFound.call(this, {
            SSID: n.ssid,
            BSSID,
            RSSI: n.rssi ?? -60,
            channel: CHANNEL,
            security: n.password ? "wpa2_psk" : "none",
          });
        } catch {
          // xs_wifi419: an exception in onFound does not stop the list
        }
      }
      scan.onComplete?.call(this);
    }

    connect(options: { SSID: string; password?: string; channel?: number }): void {
      this.#check();
      if (this.#connecting) throw new Error("already connecting");
      if (options === null || typeof options !== "object" || !("SSID" in options)) throw new Error("SSID required");
      const ssid = String(options.SSID).slice(0, 32);
      const password = options.password === undefined ? "" : String(options.password).slice(0, 64);
      if (options.channel !== undefined && (options.channel < 1 || options.channel > 13)) throw new RangeError("invalid channel");
      // esp_wifi_connect while associated: the old association ends first.
      if (leave()) broadcast("disconnected");
      const generation = link.generation;
      this.#connecting = true;
      later(() => {
        if (generation !== link.generation) return; // superseded by another connect or a disconnect
        const network = air.find(ssid);
        if (network === undefined || (network.password ?? "") !== password) return broadcast("disconnected");
        Object.assign(link, { up: true, online: false, ssid, rssi: network.rssi ?? -60 });
        broadcast("associated");
        later(() => {
          if (generation !== link.generation || !link.up) return;
          link.online = true;
          broadcast("got-ip");
        }, air.delayMs());
      }, air.delayMs());
    }

    disconnect(): void {
      this.#check();
      const joining = this.#connecting;
      this.#connecting = false;
      this.#connected = false;
      this.#ip = false;
      if (leave() || joining) broadcast("disconnected");
    }

    scan(options: { onFound(ap: AccessPointInfo): void; onComplete?(): void; channel?: number }): void {
      this.#check();
      if (scanner !== undefined) throw new Error("already scanning");
      if (options === null || typeof options !== "object" || typeof options.onFound !== "function") throw new Error("onFound required");
      this.#scan = options;
      scanner = this;
      later(() => {
        if (scanner === this) scanner = undefined;
        this.scanned();
      }, air.delayMs());
    }

    configure(_options: unknown): void {
      this.#check();
    }

    close(): void {
      if (this.#closed) return;
      this.#closed = true;
      this.#onChanged = undefined;
      this.#scan = undefined;
      if (scanner === this) scanner = undefined;
      objects.delete(this);
      hooks.untrack?.(this.#closer);
    }

    get connection(): number {
      if (this.#connected && this.#ip) return 500;
      if (this.#connected) return 400;
      if (this.#connecting) return 300;
      return 200;
    }
    get address(): string | undefined {
      this.#check();
      return link.online ? air.ip() : undefined;
    }
    get MAC(): string | undefined {
      this.#check();
      return air.mac();
    }
    get SSID(): string | undefined {
      this.#check();
      return link.up ? link.ssid : undefined;
    }
    get BSSID(): string | undefined {
      this.#check();
      return link.up ? BSSID : undefined;
    }
    get RSSI(): number | undefined {
      this.#check();
      return link.up ? link.rssi : undefined;
    }
    get channel(): number | undefined {
      this.#check();
      return link.up ? CHANNEL : undefined;
    }

    #check(): void {
      // xsmcGetHostDataValidate on a closed object
      if (this.#closed) throw new Error("closed");
    }
  }

  return {
    WiFi: Radio,
    drop() {
      if (leave()) broadcast("disconnected");
    },
    reset() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const o of [...objects]) o.close();
      scanner = undefined;
      leave();
      Object.assign(link, { ssid: "", rssi: 0 });
    },
    status() {
      return { connected: link.up, ssid: link.up ? link.ssid : "", rssi: link.up ? link.rssi : 0 };
    },
  };
}

/** The process-wide radio of the Node twins, over configureHardware()'s networks. */
const station = createStation(
  {
    find: (ssid) => hardware().networks.find((n) => n.ssid === ssid),
    visible: () => hardware().networks,
    delayMs: () => hardware().wifiDelayMs,
    ip: () => hardware().ip,
    mac: () => hardware().mac,
  },
  { track: trackHandle, untrack: untrackHandle },
);

let linkWatch: (() => void) | undefined;

/** What the `net` twin reports: the simulated station's link. */
export function stationStatus(): { connected: boolean; ssid: string; rssi: number } {
  return station.status();
}

/** The ECMA-419 class, as `import WiFi from "embedded:network/interface/wifi"` gives it. */
export default class WiFi extends station.WiFi {
  constructor(options?: { onChanged?: OnChanged }) {
    super(options);
    linkWatch ??= onLinkDrop(() => station.drop());
  }
}
