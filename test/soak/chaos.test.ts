/**
 * The short chaos soak `npm test` runs (the long one: `npm run soak`).
 *
 * MQTT: the soak device program on the XS engine in the simulator, against
 * a real mosquitto with persistence on, publishing QoS 1 and QoS 2 messages
 * while the broker restarts, the WiFi drops, the power is cut and the broker
 * floods the device; a subscriber on the broker side counts. CoAP: two
 * endpoint cores under 30% datagram loss both ways, in simulated time.
 *
 * mosquitto missing: the MQTT part fails under CI (env CI set) and is skipped
 * with a printed reason otherwise (test/helpers/mosquitto.ts).
 */
import { describe, expect, test } from "vitest";
import { runCoapLoss } from "../../soak/coap-loss.js";
import { runMqttChaos } from "../../soak/mqtt-chaos.js";
import { mosquittoSkipReason } from "../helpers/mosquitto.js";

const skip = mosquittoSkipReason();

describe("chaos soak (short)", () => {
  test.skipIf(skip !== undefined)(
    "QoS 1 at least once and QoS 2 exactly once through a broker restart, a WiFi drop, a power cut and a 10k msg/s flood",
    async () => {
      const lines: string[] = [];
      const r = await runMqttChaos({
        count: 400,
        rate: 80,
        brokerRestarts: 1,
        wifiDrops: 1,
        powerCuts: 1,
        floods: 1,
        floodRate: 10_000,
        floodMs: 1000,
        downMs: 800,
        seed: 7,
        settleTimeoutMs: 30_000,
        timeoutMs: 80_000,
        log: (l) => lines.push(l),
      });
      const why = `${JSON.stringify(r)}\n${lines.join("\n")}`;
      expect(r.complete, why).toBe(true);
      expect(r.lost, why).toEqual({ qos1: 0, qos2: 0 });
      expect(r.duplicated.qos2, why).toBe(0);
      expect(r.crashes, why).toBe(0);
      expect(r.deviceRejected, why).toBe(0);
      // every fault was injected and the device came back after each
      expect(r.faults.map((f) => f.kind).sort(), why).toEqual(["broker-restart", "flood", "power-cut", "wifi-drop"]);
      expect(r.boots, why).toBe(2);
      // flood: telemetry went on during it; the device took no more than was sent; heap stayed bounded
      expect(r.flood!.deltaAckedDuringFlood, why).toBeGreaterThan(0);
      expect(r.flood!.received, why).toBeLessThanOrEqual(r.flood!.sent);
      expect(r.flood!.heapPeakBytes, why).toBeLessThan(1_000_000);
      // XS heap at the end within 3% of the start (or lower). It had been raised from 5% to
      // 12% once the soak's device joined WiFi (5.7 / 7.1 / 9.4 % growth): a leak of the
      // simulator's bridge, ~900 XS slots (~7% of this heap) per dropped link — the socket
      // twin was never closed (stream-socket.ts) and the closed station stayed held by its
      // own onChanged in the bridge's callback table (bridge.ts). Since the fix three runs
      // ended 1.0 %, 1.2 % and 1.7 % BELOW the start (2026-12-05; docs/reliability.md).
      expect(r.heapEndBytes!, why).toBeLessThanOrEqual(r.heapStartBytes! * 1.03);
    },
    90_000,
  );

  test("CoAP with 30% datagram loss both ways: all CON requests complete, observe notifications in order, no duplicates", () => {
    const r = runCoapLoss({ requests: 200, observeMs: 300_000, loss: 0.3, seed: 11 });
    expect(r.completed).toBe(200);
    expect(r.failed).toBe(0);
    expect(r.wrongPayload).toBe(0);
    expect(r.outOfOrder).toBe(0);
    expect(r.duplicates).toBe(0);
    expect(r.notificationsDelivered).toBeGreaterThan(100);
    expect(r.simulatedMs).toBeGreaterThanOrEqual(300_000);
    // the loss really happened, and the retransmission layer (not luck) carried the requests
    expect(r.datagramsDropped / r.datagramsSent).toBeGreaterThan(0.25);
    expect(r.maxClientExchanges).toBeLessThanOrEqual(3);
  });
});
