/**
 * Error texts say their code once and say which limit was hit (issue 16 item 9):
 * "refused: refused: …" came from an error wrapping another's message, and
 * packet-too-large named no limit.
 */
import { describe, expect, test } from "vitest";
import { MoteError } from "../../src/errors.js";
import { CoapRequestError } from "../../src/coap/client.js";
import { NetError } from "../../src/net/errors.js";
import { MqttDecoder, encodePacket } from "../../src/mqtt/codec.js";
import { MqttSession } from "../../src/mqtt/session.js";

describe("an error's message names its code once", () => {
  test("a message that already starts with the code is not prefixed again", () => {
    expect(new MoteError("refused", "refused: connect ECONNREFUSED 127.0.0.1:9").message).toBe("refused: connect ECONNREFUSED 127.0.0.1:9");
    expect(new NetError("tls", "tls: tls: bad certificate").message).toBe("tls: bad certificate");
    expect(new CoapRequestError("timeout", "timeout: request timeout").message).toBe("timeout: request timeout");
    expect(new MoteError("closed").message).toBe("closed");
    expect(new MoteError("closed", "closed").message).toBe("closed");
    expect(new MoteError("dns", "cannot resolve x").message).toBe("dns: cannot resolve x");
  });
});

describe("packet-too-large says which limit was hit", () => {
  test("the session names the server's Maximum Packet Size and the message size", () => {
    const s = new MqttSession({ clientId: "t", protocolVersion: 5 });
    s.handle({ type: "open" }, 0);
    s.handle({ type: "bytes", data: encodePacket({ type: "connack", sessionPresent: false, reasonCode: 0, properties: { maximumPacketSize: 64 } }, 5) }, 0);
    const [a] = s.handle({ type: "publish", message: { topic: "a", payload: new Uint8Array(100), qos: 1 }, ref: 7 }, 1);
    expect(a).toMatchObject({ type: "failed", error: { code: "packet-too-large", reasonCode: 0x95 } });
    expect((a as { error: { message: string } }).error.message).toMatch(/^\d+ bytes > the server's Maximum Packet Size 64 /);
  });

  test("the decoder names its own limit", () => {
    const d = new MqttDecoder({ version: 5, maxPacketSize: 1024 });
    d.push(Uint8Array.of(0x30, 0x80, 0x08));
    const e = d.next() as Error;
    expect(e.message).toBe("packet-too-large: a packet of 1027 bytes > the Maximum Packet Size 1024 this side accepts");
  });
});
