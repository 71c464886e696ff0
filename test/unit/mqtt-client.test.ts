import { describe, expect, test } from "vitest";
import { parseMqttUrl } from "../../src/mqtt/client.js";
import { MoteError } from "../../src/errors.js";

describe("mqtt:// and mqtts:// URLs", () => {
  test("give host, port (1883 / 8883 by default), TLS and percent-decoded credentials", () => {
    expect(parseMqttUrl("mqtt://broker.local")).toEqual({ host: "broker.local", port: 1883, tls: false });
    expect(parseMqttUrl("mqtts://broker.local")).toEqual({ host: "broker.local", port: 8883, tls: true });
    expect(parseMqttUrl("mqtt://u%40x:p%3Aw@10.0.0.2:1884/ignored")).toEqual({ host: "10.0.0.2", port: 1884, tls: false, username: "u@x", password: "p:w" });
    expect(parseMqttUrl("mqtt://[::1]:1885")).toEqual({ host: "::1", port: 1885, tls: false });
  });
  test("anything else is MoteError invalid-url", () => {
    for (const bad of ["http://x", "mqtt://", "mqtt://h:99999", "mqtt:/h"]) expect(() => parseMqttUrl(bad)).toThrow(/invalid-url/);
  });
  test("a bad %-escape or non-UTF-8 bytes in user or password is MoteError invalid-url, not URIError (fuzz F1)", () => {
    for (const bad of ["mqtt://%zz@h", "mqtts://a%E0:p@broker.local/", "mqtt://u:%2@h", "mqtt://u:%C3%28@h"]) {
      let caught: unknown;
      try {
        parseMqttUrl(bad);
      } catch (e) {
        caught = e;
      }
      expect(caught, bad).toBeInstanceOf(MoteError);
      expect((caught as MoteError).code, bad).toBe("invalid-url");
    }
  });
});

describe("misuse of the public API is a typed MoteError, never a crash", () => {
  test("bad options throw at connect()", async () => {
    const { connect } = await import("../../src/mqtt/index.js");
    const codeOf = (f: () => unknown) => {
      try {
        f();
        return "none";
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(codeOf(() => connect("ftp://x"))).toBe("invalid-url");
    expect(codeOf(() => connect({ keepAlive: -1, reconnect: false }))).toBe("invalid-option");
    expect(codeOf(() => connect({ protocolVersion: 3 as 4, reconnect: false }))).toBe("invalid-option");
    expect(codeOf(() => connect({ maxInflight: 0, reconnect: false }))).toBe("invalid-option");
    expect(codeOf(() => connect({ protocolVersion: 4, clientId: "", clean: false, reconnect: false }))).toBe("invalid-option");
  });

  test("bad topics, filters, QoS and payloads reject the returned promise", async () => {
    const { connect } = await import("../../src/mqtt/index.js");
    const c = connect({ host: "127.0.0.1", port: 9, reconnect: false });
    const codes = await Promise.all([
      c.publish("a/#", "x").catch((e) => e.code),
      c.publish("", "x").catch((e) => e.code),
      c.publish("a", "x", { qos: 3 as 0 }).catch((e) => e.code),
      c.publish("a", 42 as unknown as string).catch((e) => e.code),
      c.subscribe("a/#/b").catch((e) => e.code),
      c.subscribe([]).catch((e) => e.code),
      c.unsubscribe("a+").catch((e) => e.code),
    ]);
    expect(codes).toEqual(["invalid-topic", "invalid-topic", "invalid-qos", "invalid-payload", "invalid-filter", "invalid-filter", "invalid-filter"]);
    await c.end({ force: true });
  });
});
