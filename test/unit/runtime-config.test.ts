import { describe, expect, test } from "vitest";
import {
  keyId,
  buildConfig,
  ConfigError,
  defaultClientId,
  normalizeConfigValue,
  parseBrokerUrl,
  toStoredValue,
  describeConfig,
  MAX_OBSERVE_URIS,
} from "../../src/runtime/config.js";
import { MoteError } from "../../src/errors.js";

const MAC = "24:0A:C4:12:34:56";
const KEY = "04" + "11".repeat(64);

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect(e).toBeInstanceOf(MoteError);
    return (e as ConfigError).code;
  }
  return undefined;
}

describe("buildConfig", () => {
  test("with no values every default applies and the client id comes from the MAC", () => {
    const { config, problems } = buildConfig({}, {}, MAC);
    expect(problems).toEqual([]);
    expect(config).toMatchObject({
      ssid: undefined,
      broker: undefined,
      clientId: "mote-240ac4123456",
      prefix: "mote",
      telemetryMs: 60_000,
      keepAliveS: 60,
      coapObserve: [],
      otaKey: undefined,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  test("stored preferences override mc/config values, which override defaults", () => {
    const { config } = buildConfig(
      { ssid: "build", password: "pw-build", broker: "mqtt://10.0.0.1", telemetryMs: 5000, file: { root: "/" } },
      { ssid: "stored", telemetryMs: 2000, coapObserve: "coap://h/a coap://h/b" },
      MAC,
    );
    expect(config.ssid).toBe("stored");
    expect(config.password).toBe("pw-build");
    expect(config.broker).toBe("mqtt://10.0.0.1");
    expect(config.telemetryMs).toBe(2000);
    expect(config.coapObserve).toEqual(["coap://h/a", "coap://h/b"]);
  });

  test("a bad value is reported and the next source applies; the boot never fails", () => {
    const { config, problems } = buildConfig({ telemetryMs: 3000 }, { telemetryMs: "soon", prefix: "a/#" }, MAC);
    expect(config.telemetryMs).toBe(3000);
    expect(config.prefix).toBe("mote");
    expect(problems.map((p) => [p.code, p.key])).toEqual([
      ["invalid-value", "prefix"],
      ["invalid-value", "telemetryMs"],
    ]);
  });

  test("the OTA key is accepted as hex or bytes and must be an uncompressed P-256 point", () => {
    const fromHex = buildConfig({ otaKey: KEY }, {}, MAC).config.otaKey!;
    expect(fromHex.length).toBe(65);
    expect(buildConfig({}, { otaKey: fromHex }, MAC).config.otaKey).toEqual(fromHex);
    expect(codeOf(() => normalizeConfigValue("otaKey", "05" + "11".repeat(64)))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("otaKey", "zz"))).toBe("invalid-value");
    // The key is shown by its id only, the password masked (docs/security.md).
    expect(describeConfig(buildConfig({ otaKey: KEY, password: "secret" }, {}, MAC).config)).toMatchObject({
      otaKey: keyId(fromHex),
      password: "***",
    });
    expect(keyId(fromHex)).toMatch(/^p256:[0-9a-f]{8}$/);
  });

  test("a MAC that is not 6 bytes cannot name the device", () => {
    expect(defaultClientId("aa-bb-cc-dd-ee-ff")).toBe("mote-aabbccddeeff");
    expect(codeOf(() => defaultClientId("nope"))).toBe("invalid-value");
  });
});

describe("normalizeConfigValue", () => {
  test("refuses unknown keys and wrongly typed values with literal codes", () => {
    expect(codeOf(() => normalizeConfigValue("colour", "red"))).toBe("unknown-key");
    expect(codeOf(() => normalizeConfigValue("ssid", 42))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("ssid", "x".repeat(33)))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("telemetryMs", 99))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("telemetryMs", 1.5))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("keepAliveS", 70_000))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("clientId", "a/b"))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("prefix", "$SYS"))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("prefix", "a//b"))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("broker", "http://x"))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("broker", "mqtt://x:99999"))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("coapObserve", ["http://x/"]))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("coapObserve", 5))).toBe("invalid-value");
    const tooMany = Array.from({ length: MAX_OBSERVE_URIS + 1 }, (_, i) => `coap://h/${i}`);
    expect(codeOf(() => normalizeConfigValue("coapObserve", tooMany))).toBe("invalid-value");
  });

  test("accepts numbers written as strings (preferences set from a shell)", () => {
    expect(normalizeConfigValue("telemetryMs", "1500")).toBe(1500);
    expect(normalizeConfigValue("ssid", null)).toBeUndefined();
  });

  test("the URI list round-trips through its stored form", () => {
    const list = normalizeConfigValue("coapObserve", ["coap://127.0.0.1:5683/sensor", "coap://h/x?y=1"]);
    const stored = toStoredValue("coapObserve", list);
    expect(stored).toBe("coap://127.0.0.1:5683/sensor coap://h/x?y=1");
    expect(normalizeConfigValue("coapObserve", stored)).toEqual(list);
  });
});

describe("parseBrokerUrl", () => {
  test("splits scheme, host and port with the MQTT default ports", () => {
    expect(parseBrokerUrl("mqtt://127.0.0.1")).toEqual({ tls: false, host: "127.0.0.1", port: 1883 });
    expect(parseBrokerUrl("mqtts://broker.example:8884/")).toEqual({ tls: true, host: "broker.example", port: 8884 });
    expect(parseBrokerUrl("mqtt://[::1]:1884")).toEqual({ tls: false, host: "::1", port: 1884 });
  });

  test("refuses anything else with a typed error", () => {
    for (const bad of ["", "mqtt://", "mqtt://h:0", "ws://h", "mqtt://u@", "mqtt://a@b@h", "mqtt://h/x", "mqtt://h:1:2"])
      expect(codeOf(() => parseBrokerUrl(bad))).toBe("invalid-value");
  });
});

describe("coapObserve round trip (fuzz finding F2)", () => {
  test("a list entry holding a comma is refused, because the stored form would split it at the next boot", () => {
    expect(() => normalizeConfigValue("coapObserve", ["coap://h/a,b"])).toThrow(/not a coap:\/\/ URI/);
  });
  test("every accepted list reads back identically from its stored string", () => {
    const accepted = normalizeConfigValue("coapObserve", ["coap://h/a", "coap://[::1]:5683/b?x=1"]) as string[];
    const stored = toStoredValue("coapObserve", accepted);
    expect(normalizeConfigValue("coapObserve", stored)).toEqual(accepted);
  });
});
