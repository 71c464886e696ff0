/**
 * The `broker` key as a list (src/runtime/config.ts): one URL or several (a
 * JSON array, or comma-separated as on the mcconfig line), credentials per
 * URL, kept as one comma-separated string; masked wherever the config is
 * shown; a TLS list judged entry by entry for downgrades (src/app/security.ts).
 */
import { describe, expect, test } from "vitest";
import { buildConfig, describeConfig, maskBrokerCredentials, normalizeConfigValue, parseBrokerList, parseBrokerUrl } from "../../src/runtime/config.js";
import { isTlsDowngrade } from "../../src/app/security.js";
import { parseMqttUrls } from "../../src/mqtt/client.js";

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe("the broker key as a list", () => {
  test("a comma-separated list and a JSON array give the same stored value, in order", () => {
    const text = normalizeConfigValue("broker", "mqtt://127.0.0.1:1884, mqtt://127.0.0.1:1885,mqtt://127.0.0.1:1886");
    const array = normalizeConfigValue("broker", ["mqtt://127.0.0.1:1884", "mqtt://127.0.0.1:1885", "mqtt://127.0.0.1:1886"]);
    expect(text).toBe("mqtt://127.0.0.1:1884,mqtt://127.0.0.1:1885,mqtt://127.0.0.1:1886");
    expect(array).toBe(text);
    expect(parseBrokerList(text as string).map((b) => b.port)).toEqual([1884, 1885, 1886]);
  });

  test("credentials are per URL and percent-decoded (RFC 3986 §3.2.1)", () => {
    const [a, b] = parseBrokerList("mqtt://dev%40fleet:p%2Cw@127.0.0.1:1884,mqtt://127.0.0.1:1885");
    expect(a).toEqual({ tls: false, host: "127.0.0.1", port: 1884, username: "dev@fleet", password: "p,w" });
    expect(b).toEqual({ tls: false, host: "127.0.0.1", port: 1885 });
    expect(parseBrokerUrl("mqtt://only-user@[::1]:1883")).toEqual({ tls: false, host: "::1", port: 1883, username: "only-user" });
    expect(codeOf(() => parseBrokerUrl("mqtt://u:%zz@h"))).toBe("invalid-value");
  });

  test("a bad entry, an empty list, too many brokers or a mixed TLS list are refused", () => {
    expect(codeOf(() => normalizeConfigValue("broker", "mqtt://a:1883,http://b"))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("broker", "mqtt://a,,mqtt://b"))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("broker", []))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("broker", [1]))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("broker", Array.from({ length: 9 }, (_, i) => `mqtt://h${i}`)))).toBe("invalid-value");
    expect(codeOf(() => normalizeConfigValue("broker", "mqtts://a,mqtt://b"))).toBe("invalid-value");
    expect(normalizeConfigValue("broker", Array.from({ length: 8 }, (_, i) => `mqtts://h${i}`))).toMatch(/^mqtts:\/\/h0,/);
  });

  test("a bad list at boot is a problem, not a stopped boot: MQTT stays off", () => {
    const { config, problems } = buildConfig({ broker: "mqtt://a,ftp://b" }, {}, "02:00:00:00:00:01");
    expect(config.broker).toBeUndefined();
    expect(problems.map((p) => p.code)).toEqual(["invalid-value"]);
  });

  test("credentials never show in describeConfig", () => {
    const { config } = buildConfig({ broker: ["mqtt://u1:secret1@a:1", "mqtt://b:2", "mqtt://u3:secret3@c:3"] }, {}, "02:00:00:00:00:01");
    const shown = JSON.stringify(describeConfig(config));
    expect(shown).not.toContain("secret");
    expect(shown).not.toContain("u1");
    expect(describeConfig(config).broker).toBe("mqtt://***@a:1,mqtt://b:2,mqtt://***@c:3");
    expect(maskBrokerCredentials("mqtts://h")).toBe("mqtts://h");
  });

  test("from a TLS list, any plain entry or no broker is a downgrade; TLS to TLS is not", () => {
    const from = "mqtts://a:8883,mqtts://b:8883";
    expect(isTlsDowngrade(from, "mqtts://a:8883,mqtt://b:1883")).toBe(true);
    expect(isTlsDowngrade(from, ["mqtts://a", "mqtt://b"])).toBe(true);
    expect(isTlsDowngrade(from, [])).toBe(true);
    expect(isTlsDowngrade(from, null)).toBe(true);
    expect(isTlsDowngrade(from, [7])).toBe(true);
    expect(isTlsDowngrade(from, "mqtts://c,mqtts://d")).toBe(false);
    expect(isTlsDowngrade(from, ["mqtts://c"])).toBe(false);
    expect(isTlsDowngrade("mqtt://a,mqtt://b", "mqtt://c")).toBe(false);
  });

  test("the MQTT client takes the same list", () => {
    expect(parseMqttUrls("mqtt://u:p@127.0.0.1:1884,mqtts://h").map((t) => [t.host, t.port, t.tls, t.username])).toEqual([
      ["127.0.0.1", 1884, false, "u"],
      ["h", 8883, true, undefined],
    ]);
    expect(codeOf(() => parseMqttUrls(Array.from({ length: 9 }, () => "mqtt://h").join(",")))).toBe("invalid-url");
  });
});
