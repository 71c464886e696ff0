/**
 * A v5 CONNECT answered by a broker that speaks only MQTT 3.1.1 (MQTT 5 §3.1.4,
 * §4.13; 3.1.1 §3.1.2.2): its CONNACK carries the 3.1.1 return code 1
 * "unacceptable protocol version" with no properties. That code means nothing
 * in v5 (no CONNACK reason code lies in 0x01..0x7f, §3.2.2.2), and was read as
 * v5's 0x01 "granted QoS 1".
 */
import { describe, expect, test } from "vitest";
import { MqttSession } from "../../src/mqtt/session.js";

/** CONNACK as a 3.1.1 broker sends it: flags, return code, nothing else (§3.2). */
const v3Connack = (rc: number) => Uint8Array.of(0x20, 0x02, 0x00, rc);

describe("a v5 session refused by a 3.1.1 broker", () => {
  test("return code 1 closes with connect-refused 0x84 unsupported protocol version, not 'granted QoS 1'", () => {
    const s = new MqttSession({ clientId: "t", protocolVersion: 5 });
    s.handle({ type: "open" }, 0);
    const actions = s.handle({ type: "bytes", data: v3Connack(1) }, 1);
    const close = actions.find((a) => a.type === "close");
    expect(close).toMatchObject({ type: "close", reason: { code: "connect-refused", reasonCode: 0x84 } });
    const message = (close as { reason: { message: string } }).reason.message;
    expect(message).toMatch(/unsupported protocol version/);
    expect(message).toMatch(/3\.1\.1 CONNACK, return code 1/);
    expect(message).not.toMatch(/granted/);
  });

  test("return codes 2..5 map to their v5 names (identifier rejected .. not authorized)", () => {
    const names: Record<number, [number, RegExp]> = { 2: [0x85, /client identifier not valid/], 3: [0x88, /server unavailable/], 4: [0x86, /bad user name or password/], 5: [0x87, /not authorized/] };
    for (const [rc, [v5, name]] of Object.entries(names)) {
      const s = new MqttSession({ clientId: "t", protocolVersion: 5 });
      s.handle({ type: "open" }, 0);
      const close = s.handle({ type: "bytes", data: v3Connack(Number(rc)) }, 1).find((a) => a.type === "close") as { reason: { reasonCode: number; message: string } };
      expect(close.reason.reasonCode).toBe(v5);
      expect(close.reason.message).toMatch(name);
    }
  });

  test("a v5 CONNACK 0x84 with its property length is still read as v5", () => {
    const s = new MqttSession({ clientId: "t", protocolVersion: 5 });
    s.handle({ type: "open" }, 0);
    const close = s.handle({ type: "bytes", data: Uint8Array.of(0x20, 0x03, 0x00, 0x84, 0x00) }, 1).find((a) => a.type === "close");
    expect(close).toMatchObject({ reason: { code: "connect-refused", reasonCode: 0x84, message: "unsupported protocol version" } });
  });

  test("a 3.1.1 session reads return code 1 as before", () => {
    const s = new MqttSession({ clientId: "t", protocolVersion: 4 });
    s.handle({ type: "open" }, 0);
    const close = s.handle({ type: "bytes", data: v3Connack(1) }, 1).find((a) => a.type === "close");
    expect(close).toMatchObject({ reason: { code: "connect-refused", reasonCode: 0x84, message: "unsupported protocol version" } });
  });
});
