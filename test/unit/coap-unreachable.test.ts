/**
 * The CoAP client ends a request at once when its datagram cannot reach the
 * peer (issue 16 item 8): an ICMP port unreachable reported by the socket
 * (RFC 1122 §4.1.3.3, "refused") or a send the host refuses (no IPv6 on the
 * runtime). It waited out MAX_TRANSMIT_WAIT (~93 s) before: the send error
 * was swallowed and the socket's errors were not listened to.
 */
import { describe, expect, test } from "vitest";
import { CoapClient } from "../../src/coap/client.js";
import type { CoapHost, HostErrorCode } from "../../src/coap/driver.js";

/** A host whose one socket records sends and lets the test raise socket errors; time stands still. */
function host(options: { refuseIPv6?: boolean } = {}) {
  const sent: string[] = [];
  let raise: ((code: HostErrorCode, message?: string) => void) | undefined;
  const h: CoapHost = {
    now: () => 0,
    random: () => 0.5,
    openUdp(o) {
      raise = o.onError;
      return {
        port: 40000,
        send(_data, address, port) {
          if (options.refuseIPv6 && address.includes(":")) throw Object.assign(new Error(`unreachable: cannot send to the IPv6 address ${address}`), { code: "unreachable" });
          sent.push(`${address} ${port}`);
        },
        close() {},
      };
    },
    resolveHost: (_h, cb) => cb(undefined, "dns"),
    createAlarm: () => ({ arm() {}, close() {} }),
  };
  return { h, sent, raise: (code: HostErrorCode, message?: string) => raise?.(code, message) };
}

describe("a CoAP request whose peer cannot be reached", () => {
  test("an ICMP port unreachable (socket error 'refused') rejects what was sent with unreachable, at once", async () => {
    const { h, sent, raise } = host();
    const client = new CoapClient({ host: h });
    const a = client.get("coap://127.0.0.1:5683/a");
    const b = client.get("coap://127.0.0.1:5683/b");
    await Promise.resolve(); // a request goes out in a job of its own (src/coap/client.ts: a flat stack on XS)
    expect(sent).toEqual(["127.0.0.1 5683"]); // NSTART 1 (RFC 7252 §4.7): b waits behind a
    raise("refused", "recvmsg ECONNREFUSED");
    await expect(a).rejects.toMatchObject({ code: "unreachable", message: "unreachable: nothing listens on udp 127.0.0.1:5683 (ICMP)" });
    await expect(b).rejects.toMatchObject({ code: "unreachable" });
    client.close();
  });

  test("other socket errors leave requests to their retransmissions", async () => {
    const { h, raise } = host();
    const client = new CoapClient({ host: h });
    let settled = false;
    client.get("coap://127.0.0.1:5683/a").then(
      () => (settled = true),
      () => (settled = true),
    );
    raise("error", "something else");
    await new Promise((r) => setTimeout(r, 0));
    expect(settled).toBe(false);
    client.close();
  });

  test("a datagram the host cannot send (no IPv6) rejects that peer's request with unreachable, not a timeout", async () => {
    const { h } = host({ refuseIPv6: true });
    const client = new CoapClient({ host: h });
    await expect(client.get("coap://[::1]:5683/x")).rejects.toMatchObject({
      code: "unreachable",
      message: "unreachable: [::1]:5683: cannot send to the IPv6 address ::1",
    });
    client.close();
  });
});
