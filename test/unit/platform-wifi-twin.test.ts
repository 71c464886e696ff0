/**
 * The Node twin of `embedded:network/interface/wifi` keeps the rules of the
 * ESP32 module it stands for ($MODDABLE/modules/io/wifi/esp32/wifi-esp32.c),
 * so what passes in the simulator is what the chip does.
 */
import { beforeEach, describe, expect, test } from "vitest";
import WiFi from "../../host-shim/node/wifi.js";
import { configureHardware, dropWifi } from "../../host-shim/node/hardware.js";

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

function watched() {
  const seen: string[] = [];
  const w: WiFi = new WiFi({
    onChanged(this: unknown, property: string) {
      seen.push(`${property}:${(this as WiFi).connection}`); // `this` is the object, as on the chip
    },
  });
  return { w, seen };
}

describe("ECMA-419 WiFi twin", () => {
  beforeEach(() =>
    configureHardware({ networks: [{ ssid: "home", password: "secret-pass", rssi: -48 }], mac: "24:0a:c4:12:34:56", ip: "127.0.0.1", wifiDelayMs: 1 }),
  );

  test("a join: 300 on connect, then onChanged says 400 and 500 and the address; getters read the link", async () => {
    const { w, seen } = watched();
    expect(w.connection).toBe(200);
    expect(w.MAC).toBe("24:0a:c4:12:34:56");
    w.connect({ SSID: "home", password: "secret-pass" });
    expect(w.connection).toBe(300);
    expect(seen).toEqual([]); // connect() itself reports nothing
    await until(() => w.connection === 500);
    expect(seen).toEqual(["connection:400", "connection:500", "address:500"]);
    expect({ address: w.address, SSID: w.SSID, RSSI: w.RSSI }).toEqual({ address: "127.0.0.1", SSID: "home", RSSI: -48 });
    w.disconnect();
    w.close();
  });

  test("a second connect while the first is pending throws, as the chip's does", () => {
    const { w } = watched();
    w.connect({ SSID: "home", password: "secret-pass" });
    expect(() => w.connect({ SSID: "home", password: "secret-pass" })).toThrow("already connecting");
    expect(() => w.connect({} as { SSID: string })).toThrow();
    w.close();
  });

  test("a rejected join falls back to 200 with nothing else to say", async () => {
    const { w, seen } = watched();
    w.connect({ SSID: "home", password: "wrong-pass" });
    await until(() => seen.length > 0);
    expect(seen).toEqual(["connection:200"]);
    expect(w.SSID).toBeUndefined();
    expect(w.RSSI).toBeUndefined();
    w.close();
  });

  test("one radio: an object made while associated starts at 500, and every object hears the link drop", async () => {
    const a = watched();
    a.w.connect({ SSID: "home", password: "secret-pass" });
    await until(() => a.w.connection === 500);
    const b = watched();
    expect(b.w.connection).toBe(500);
    dropWifi();
    expect(a.w.connection).toBe(200);
    expect(b.seen).toEqual(["connection:200"]);
    a.w.close();
    b.w.close();
  });

  test("scan lists what is on the air, one scan per radio at a time", async () => {
    const { w } = watched();
    const other = watched();
    const found: { SSID: string; security: string; RSSI: number }[] = [];
    let complete = false;
    w.scan({ onFound: (ap) => found.push({ SSID: ap.SSID, security: ap.security, RSSI: ap.RSSI }), onComplete: () => (complete = true) });
    expect(() => other.w.scan({ onFound() {} })).toThrow("already scanning");
    await until(() => complete);
    expect(found).toEqual([{ SSID: "home", security: "wpa2_psk", RSSI: -48 }]);
    w.close();
    other.w.close();
  });

  test("a closed object is deaf and its getters throw", async () => {
    const { w, seen } = watched();
    w.connect({ SSID: "home", password: "secret-pass" });
    w.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual([]);
    expect(() => w.address).toThrow("closed");
    expect(() => w.connect({ SSID: "home" })).toThrow("closed");
  });
});
