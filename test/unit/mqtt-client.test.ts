import { describe, expect, test } from "vitest";
import { parseMqttUrl } from "../../src/mqtt/client.js";

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
});
