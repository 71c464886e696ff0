/**
 * One simulated device: the device bundle running in its own XS engine, with
 * its own build-time config (served as "mc/config"), state folder and hardware.
 *
 * Lifecycle: boot → running; the program asks for a reboot (status.reboot set)
 * → the engine is closed and a new one started from the same bundle (on OTA,
 * the bundle of the active slot, given by `bundleForBoot`); power cut → the
 * engine is killed without warning (sockets reset, no DISCONNECT: the broker
 * publishes the will) and booted again after the off time.
 */
import { startXs, type XsEngine } from "../xs/engine.js";
import { esp32SlotBytes } from "./chip-heap.js";
import type { DeviceStatus } from "../../src/runtime/health.js";

export type SimDeviceState = "off" | "booting" | "running" | "rebooting" | "stopped";

export interface SimHardware {
  /** Host modules that differ per device (wifi, net, preference...), served to its engine. */
  modules(): Record<string, Record<string, unknown>>;
  /** The access point vanishes for `durationMs`. */
  dropWifi(durationMs: number): void;
  close?(): void;
}

export interface SimDeviceOptions {
  readonly index: number;
  readonly name: string;
  readonly stateDir: string;
  /** Values the build would get from `mcconfig key=value` (mc/config). */
  readonly buildConfig: Record<string, unknown>;
  readonly hardware: SimHardware;
  /**
   * What to boot, asked at every boot (OTA can switch slots): the script, and
   * build-time values that come with that image (e.g. its version).
   */
  bundleForBoot(): Promise<string | { source: string; config?: Record<string, unknown> }>;
  /** Host modules every boot gets besides the hardware's (e.g. "mote/ota-boot"). */
  readonly extraModules?: Record<string, Record<string, unknown>>;
  /** The xsnap-worker binary its engine runs on (default: the stock one). */
  readonly xsnapBinary?: string;
  /**
   * The xsnap heap of the program's image (its modules evaluated, not started;
   * host-shim/sim/chip-heap.ts), for the heap on the chip's terms. Only for the
   * default program; without it only the xsnap figure is known.
   */
  imageHeapBytes?(): Promise<number | undefined>;
  onLog?(line: string): void;
  onEvent?(event: SimDeviceEvent): void;
}

export type SimDeviceEvent =
  | { type: "boot"; boot: number }
  | { type: "reboot"; reason: string }
  | { type: "power-cut"; offMs: number }
  | { type: "crash"; message: string };

export interface SimDeviceStatus {
  readonly index: number;
  readonly name: string;
  readonly state: SimDeviceState;
  readonly boots: number;
  readonly device: DeviceStatus | undefined;
  /** XS heap in use after the last gc, bytes: xsnap's slots (32 bytes each), built-ins and the program's image included. */
  readonly xsHeapBytes: number | undefined;
  readonly xsHeapPeakBytes: number;
  /** The slot heap on the ESP32's terms, estimated (host-shim/sim/chip-heap.ts): undefined when the image is unknown (an app, a soak program). */
  readonly esp32SlotBytes?: number;
  readonly esp32SlotPeakBytes?: number;
  /** When the last error of the engine itself happened (crash, refused call). */
  readonly lastError: string | undefined;
}

/**
 * Healthy: the program's own verdict where it reports one (the default program's
 * `moteStatus().healthy`); an app that reports no status is healthy while its engine
 * runs without an error (it did not crash and no host call was refused).
 */
export function isHealthy(s: SimDeviceStatus): boolean {
  if (s.device !== undefined) return s.device.healthy === true;
  return s.state === "running" && s.lastError === undefined;
}

export class SimDevice {
  readonly #o: SimDeviceOptions;
  #engine: XsEngine | undefined;
  #state: SimDeviceState = "off";
  #boots = 0;
  #status: DeviceStatus | undefined;
  #heap: number | undefined;
  #heapPeak = 0;
  #esp32: number | undefined;
  #esp32Peak: number | undefined;
  #lastError: string | undefined;
  #polling = false;
  #offTimer: NodeJS.Timeout | undefined;

  constructor(options: SimDeviceOptions) {
    this.#o = options;
  }

  get engine(): XsEngine | undefined {
    return this.#engine;
  }

  get state(): SimDeviceState {
    return this.#state;
  }

  async boot(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "booting";
    this.#status = undefined;
    const image = await this.#o.bundleForBoot();
    const source = typeof image === "string" ? image : image.source;
    const imageConfig = typeof image === "string" ? {} : (image.config ?? {});
    const bundle = source;
    this.#boots++;
    this.#o.onEvent?.({ type: "boot", boot: this.#boots });
    try {
      this.#engine = await startXs({
        bundle,
        name: this.#o.name,
        stateDir: this.#o.stateDir,
        hostModules: {
          "mc/config": { default: { ...this.#o.buildConfig, ...imageConfig } },
          ...this.#o.extraModules,
          ...this.#o.hardware.modules(),
        },
        onLog: (line) => this.#o.onLog?.(line),
        stdio: "ignore",
        maxLogLines: 2000,
        xsnapBinary: this.#o.xsnapBinary,
      });
      this.#state = "running";
    } catch (e) {
      this.#lastError = e instanceof Error ? e.message : String(e);
      this.#o.onEvent?.({ type: "crash", message: this.#lastError });
      this.#state = "off";
      throw e;
    }
  }

  /**
   * Reads the program's status (and the XS heap when `meters`); reboots the
   * engine when the program asked for it. Calls do not overlap.
   */
  async poll(meters = true): Promise<void> {
    const engine = this.#engine;
    if (engine === undefined || this.#state !== "running" || this.#polling) return;
    this.#polling = true;
    try {
      const status = (await engine.call("moteStatus")) as DeviceStatus | undefined;
      this.#status = status;
      if (meters) {
        const m = await engine.meters();
        this.#heap = m.heapBytes;
        if (m.heapBytes > this.#heapPeak) this.#heapPeak = m.heapBytes;
        const image = await this.#o.imageHeapBytes?.();
        if (image !== undefined) {
          this.#esp32 = esp32SlotBytes(m.heapBytes, image);
          this.#esp32Peak = Math.max(this.#esp32Peak ?? 0, this.#esp32);
        }
      }
      if (status?.reboot !== undefined && this.#state === "running") await this.#restart(status.reboot);
    } catch (e) {
      if (this.#engine === engine && this.#state === "running") {
        this.#lastError = e instanceof Error ? e.message : String(e);
        this.#o.onEvent?.({ type: "crash", message: this.#lastError });
      }
    } finally {
      this.#polling = false;
    }
  }

  /**
   * The board's restart called from inside the program (esp_restart: the OTA
   * twin's `restart()`, e.g. a health check that rolls an update back). Runs on
   * a later turn, outside the engine's host call that asked for it.
   */
  restartSoon(reason: string): void {
    setTimeout(() => {
      if (this.#state === "running") this.#restart(reason).catch(() => undefined);
    }, 0);
  }

  /** Restarts the engine (what the device's own reboot does). */
  async #restart(reason: string): Promise<void> {
    this.#state = "rebooting";
    this.#o.onEvent?.({ type: "reboot", reason });
    // Give the program its grace to flush (it already stopped itself), then reset.
    await this.#shutdown();
    await this.boot();
  }

  /** Power cut: the engine dies now; it boots again after `offMs`. */
  async powerCut(offMs = 1000): Promise<void> {
    if (this.#state !== "running") return;
    this.#o.onEvent?.({ type: "power-cut", offMs });
    await this.#shutdown();
    this.#state = "off";
    this.#offTimer = setTimeout(() => {
      this.#offTimer = undefined;
      this.boot().catch(() => undefined);
    }, offMs);
  }

  dropWifi(durationMs: number): void {
    this.#o.hardware.dropWifi(durationMs);
  }

  /** Sends a global call into the running program (for tests and the CLI). */
  async call(name: string, args?: unknown): Promise<unknown> {
    if (this.#engine === undefined) throw new Error("device is off");
    return this.#engine.call(name, args);
  }

  status(): SimDeviceStatus {
    return {
      index: this.#o.index,
      name: this.#o.name,
      state: this.#state,
      boots: this.#boots,
      device: this.#status,
      xsHeapBytes: this.#heap,
      xsHeapPeakBytes: this.#heapPeak,
      esp32SlotBytes: this.#esp32,
      esp32SlotPeakBytes: this.#esp32Peak,
      lastError: this.#lastError,
    };
  }

  logs(): string[] {
    return this.#engine?.logs ?? [];
  }

  async stop(): Promise<void> {
    this.#state = "stopped";
    if (this.#offTimer !== undefined) clearTimeout(this.#offTimer);
    await this.#shutdown();
    this.#o.hardware.close?.();
  }

  async #shutdown(): Promise<void> {
    const engine = this.#engine;
    this.#engine = undefined;
    this.#status = undefined;
    if (engine !== undefined) await engine.close().catch(() => undefined);
  }
}
