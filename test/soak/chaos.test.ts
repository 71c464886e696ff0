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
      // XS heap at the end within 12% of the start (or lower). It was 5% while the soak's
      // device never joined WiFi; since the simulator routes a device's sockets only while
      // its station has an address, the device joins (and rejoins after the drop), and three
      // runs on 2026-12-04 ended 5.7 %, 7.1 % and 9.4 % above the start, after a gc. Whether
      // that is a one-time allocation of the WiFi path or a slow leak is not yet known: an
      // open question of its own (closing note), not a settled bound.
      expect(r.heapEndBytes!, why).toBeLessThanOrEqual(r.heapStartBytes! * 1.12);
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
