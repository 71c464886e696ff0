/**
 * mote/device — what an application's own `main` needs of the board besides
 * the protocols: WiFi, timers, the clock, logging and the build-time values
 * (`mcconfig ssid=… broker=…`, or the simulator's). Thin re-exports of
 * src/platform/, so an app never names a Moddable host module itself and runs
 * unchanged on the ESP32, on Moddable's desktop runtime and in the simulator.
 *
 *   import { runWhenOnline, setRepeating, log, buildTimeValues } from "mote/device";
 *   runWhenOnline((ip) => {            // joins ssid/password (build-time values), then:
 *     log("info", `online as ${ip}`);
 *     setRepeating(() => log("info", "tick"), 1000);
 *   });
 */
import { connectWifi, type WifiDisconnectReason } from "./platform/wifi.js";
import { clearTimer, setTimer, type TimerHandle } from "./platform/timer.js";
import { now } from "./platform/clock.js";
import { randomInt } from "./platform/random.js";
import { Backoff } from "./runtime/backoff.js";
import { buildTimeValues } from "./platform/config.js";
import { log } from "./platform/log.js";
import { MoteError } from "./errors.js";

export { connectWifi, wifiInfo } from "./platform/wifi.js";
export type { WifiEvent, WifiDisconnectReason } from "./platform/wifi.js";
export { setTimer, setRepeating, clearTimer, type TimerHandle } from "./platform/timer.js";
export { now } from "./platform/clock.js";
export { log, type LogLevel } from "./platform/log.js";
export { buildTimeValues } from "./platform/config.js";

export interface KeepWifiOptions {
  ssid: string;
  password?: string;
  /** The station has an address (first time and after every reconnect). */
  onOnline(address: string): void;
  /** The station lost the network (or a join failed); a new attempt follows after a backoff. */
  onOffline?(reason: WifiDisconnectReason): void;
  /** Backoff between attempts, ms: first ceiling (default 1000) and largest (default 30000). */
  baseMs?: number;
  maxMs?: number;
}

/**
 * Joins `ssid` and stays joined: each failed join or lost link is followed by
 * a new attempt after a capped, jittered backoff (`connectWifi` itself makes
 * one attempt only). `close()` leaves the network and stops retrying.
 */
export function keepWifi(options: KeepWifiOptions): { close(): void } {
  const backoff = new Backoff({ baseMs: options.baseMs ?? 1000, maxMs: options.maxMs ?? 30_000, minMs: 100, rng: () => randomInt(1_000_000) / 1_000_000 });
  let station: { close(): void } | undefined;
  let retry: TimerHandle | undefined;
  let closed = false;
  const attempt = () => {
    retry = undefined;
    if (closed) return;
    station = connectWifi({
      ssid: options.ssid,
      password: options.password,
      onEvent(event) {
        if (closed) return;
        if (event.type === "got-ip") {
          backoff.succeeded(now());
          options.onOnline(event.address);
        } else if (event.type === "disconnected") {
          options.onOffline?.(event.reason);
          station?.close();
          station = undefined;
          if (retry === undefined) retry = setTimer(attempt, backoff.failed(now()));
        }
      },
    });
  };
  attempt();
  return {
    close() {
      closed = true;
      clearTimer(retry);
      retry = undefined;
      station?.close();
      station = undefined;
    },
  };
}

/**
 * The usual start of a device program: join the network named by the
 * build-time values `ssid` and `password` (keepWifi: rejoins after a loss) and
 * call `main` once, the first time the station has an address. What `main`
 * starts (an MQTT client, a server) rides out later losses by itself.
 */
export function runWhenOnline(main: (address: string) => void): { close(): void } {
  const { ssid, password } = buildTimeValues(["ssid", "password"]);
  if (typeof ssid !== "string" || ssid === "") throw new MoteError("invalid-argument", "no WiFi network: build with mcconfig ssid=NAME password=SECRET");
  let started = false;
  return keepWifi({
    ssid,
    password: password === undefined ? undefined : String(password),
    onOnline(address) {
      log("info", `wifi online ${address}`);
      if (started) return;
      started = true;
      main(address);
    },
    onOffline: (reason) => log("warn", `wifi offline (${reason})`),
  });
}
