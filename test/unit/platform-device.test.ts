import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, test } from "vitest";
import { connectWifi, joinFailureReason, wifiInfo, freeMemory, type WifiEvent } from "../../src/platform/wifi.js";
import {
  deletePreference,
  getPreference,
  preferenceKeys,
  setPreference,
} from "../../src/platform/preferences.js";
import { randomBytes, randomInt } from "../../src/platform/random.js";
import { log } from "../../src/platform/log.js";
import { configureHardware, dropWifi, openHandleCount } from "../../host-shim/node/hardware.js";

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("platform WiFi over the simulated hardware", () => {
  beforeEach(() =>
    configureHardware({
      networks: [{ ssid: "home", password: "secret-pass", rssi: -48 }],
      mac: "24:0A:C4:12:34:56",
      wifiDelayMs: 1,
    }),
  );

  test("a known network with the right password connects and gets an IP", async () => {
    const events: WifiEvent[] = [];
    const station = connectWifi({ ssid: "home", password: "secret-pass", onEvent: (e) => events.push(e) });
    await until(() => events.some((e) => e.type === "got-ip"));
    expect(events).toEqual([{ type: "connecting" }, { type: "connected" }, { type: "got-ip", address: "127.0.0.1" }]);
    expect(wifiInfo()).toEqual({ ip: "127.0.0.1", mac: "24:0A:C4:12:34:56", rssi: -48, ssid: "home" });
    station.close();
    expect(wifiInfo()).toEqual({ mac: "24:0A:C4:12:34:56" });
  });

  test("a wrong password is disconnected with reason wrong-password", async () => {
    const events: WifiEvent[] = [];
    const station = connectWifi({ ssid: "home", password: "nope-nope", onEvent: (e) => events.push(e) });
    await until(() => events.some((e) => e.type === "disconnected"));
    expect(events.at(-1)).toEqual({ type: "disconnected", reason: "wrong-password" });
    station.close();
  });

  test("an unknown ssid is disconnected with reason no-ap", async () => {
    const events: WifiEvent[] = [];
    const station = connectWifi({ ssid: "elsewhere", password: "x", onEvent: (e) => events.push(e) });
    await until(() => events.some((e) => e.type === "disconnected"));
    expect(events.at(-1)).toEqual({ type: "disconnected", reason: "no-ap" });
    station.close();
  });

  test("a dropped link is reported once as lost-link", async () => {
    const events: WifiEvent[] = [];
    const station = connectWifi({ ssid: "home", password: "secret-pass", onEvent: (e) => events.push(e) });
    await until(() => events.some((e) => e.type === "got-ip"));
    dropWifi();
    await new Promise((r) => setTimeout(r, 10));
    expect(events.filter((e) => e.type === "disconnected")).toEqual([{ type: "disconnected", reason: "lost-link" }]);
    expect(wifiInfo().ip).toBeUndefined();
    station.close();
  });

  test("no event after close()", async () => {
    const events: WifiEvent[] = [];
    const station = connectWifi({ ssid: "home", password: "secret-pass", onEvent: (e) => events.push(e) });
    station.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(events).toEqual([]);
  });

  test("bad arguments are MoteError invalid-argument", () => {
    expect(() => connectWifi({ ssid: "", onEvent() {} })).toThrowError(expect.objectContaining({ code: "invalid-argument" }));
    expect(() => connectWifi({ ssid: "x".repeat(33), onEvent() {} })).toThrowError(
      expect.objectContaining({ code: "invalid-argument" }),
    );
  });

  test("a failed join to an open network (seen on the air, no security) is unknown: the API gives no reason", async () => {
    configureHardware({ networks: [{ ssid: "cafe", rssi: -70 }], wifiDelayMs: 1 });
    const events: WifiEvent[] = [];
    const station = connectWifi({ ssid: "cafe", password: "not-needed", onEvent: (e) => events.push(e) });
    await until(() => events.some((e) => e.type === "disconnected"));
    expect(events).toEqual([{ type: "connecting" }, { type: "disconnected", reason: "unknown" }]);
    station.close();
  });

  test("the reasons come from the ECMA-419 states and a scan: the interface itself passes none", () => {
    expect(joinFailureReason(undefined)).toBe("no-ap");
    expect(joinFailureReason("wpa2_psk")).toBe("wrong-password");
    expect(joinFailureReason("wpa3_psk")).toBe("wrong-password");
    expect(joinFailureReason("none")).toBe("unknown");
  });

  test("the station closes its interface object: no WiFi object is left open after close()", async () => {
    const before = openHandleCount();
    const events: WifiEvent[] = [];
    const station = connectWifi({ ssid: "home", password: "secret-pass", onEvent: (e) => events.push(e) });
    await until(() => events.some((e) => e.type === "got-ip"));
    expect(openHandleCount()).toBe(before + 1); // the interface object, nothing else
    wifiInfo(); // reads through the open station, opens nothing
    expect(openHandleCount()).toBe(before + 1);
    station.close();
    expect(openHandleCount()).toBe(before);
    wifiInfo(); // a short-lived object for the read, closed again
    expect(openHandleCount()).toBe(before);
  });

  test("free memory is what the simulated chip reports through instrumentation", () => {
    configureHardware({ freeMemoryBytes: 151_552 });
    expect(freeMemory()).toBe(151_552);
  });
});

describe("platform preferences over the state directory", () => {
  beforeEach(() => configureHardware({ stateDir: mkdtempSync(join(tmpdir(), "mote-pref-")) }));

  test("values of every kind round-trip and survive in one JSON file per domain", () => {
    setPreference("wifi", "ssid", "home");
    setPreference("wifi", "retries", -3);
    setPreference("wifi", "enabled", false);
    setPreference("wifi", "blob", new Uint8Array([0, 1, 255]));
    expect(getPreference("wifi", "ssid")).toBe("home");
    expect(getPreference("wifi", "retries")).toBe(-3);
    expect(getPreference("wifi", "enabled")).toBe(false);
    expect(getPreference("wifi", "blob")).toEqual(new Uint8Array([0, 1, 255]));
    expect(preferenceKeys("wifi").sort()).toEqual(["blob", "enabled", "retries", "ssid"]);
    deletePreference("wifi", "ssid");
    expect(getPreference("wifi", "ssid")).toBeUndefined();
    expect(getPreference("other", "ssid")).toBeUndefined();
    expect(preferenceKeys("empty")).toEqual([]);
  });

  test("files are written atomically (no temp file left behind)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mote-pref-"));
    configureHardware({ stateDir: dir });
    setPreference("app", "k", "v");
    const files = readdirSync(join(dir, "preferences"));
    expect(files).toEqual(["app.json"]);
    expect(JSON.parse(readFileSync(join(dir, "preferences", "app.json"), "utf8"))).toEqual({ k: "v" });
  });

  test("names over 15 characters and bad values are MoteError invalid-argument", () => {
    const bad = expect.objectContaining({ code: "invalid-argument" });
    expect(() => setPreference("a-very-long-domain", "k", 1)).toThrowError(bad);
    expect(() => setPreference("d", "a-very-long-key-name", 1)).toThrowError(bad);
    expect(() => getPreference("", "k")).toThrowError(bad);
    expect(() => setPreference("d", "k", Number.NaN)).toThrowError(bad);
    expect(() => setPreference("d", "k", 1.5)).toThrowError(bad); // ESP32 NVS keeps int32 only
    expect(() => setPreference("d", "k", 2 ** 31)).toThrowError(bad);
    expect(() => setPreference("d", "k", {} as unknown as string)).toThrowError(bad);
    expect(() => setPreference("d", "k", new Uint8Array(5000))).toThrowError(bad);
  });
});

describe("platform random and log", () => {
  test("randomBytes gives the asked length and randomInt stays in range", () => {
    expect(randomBytes(16).length).toBe(16);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const n = randomInt(4);
      expect(n).toBeGreaterThanOrEqual(0);
      expect(n).toBeLessThan(4);
      seen.add(n);
    }
    expect(seen.size).toBe(4);
    expect(() => randomBytes(-1)).toThrowError(expect.objectContaining({ code: "invalid-argument" }));
    expect(() => randomInt(0)).toThrowError(expect.objectContaining({ code: "invalid-argument" }));
  });

  test("log writes one line through the host trace", () => {
    const lines: string[] = [];
    const g = globalThis as unknown as { trace?: (s: string) => void };
    const saved = g.trace;
    g.trace = (s) => lines.push(s);
    try {
      log("warn", "disk almost full");
    } finally {
      g.trace = saved;
    }
    expect(lines).toEqual(["warn disk almost full\n"]);
  });
});
