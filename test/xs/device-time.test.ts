/**
 * XS tier: the clock set by SNTP under the supervisor, in the device program on
 * the XS engine, against a local SNTP peer (test/helpers/sntp-peer.ts) on
 * 127.0.0.1. Time is asked once WiFi has an address; a server that does not
 * answer is reported and retried, while MQTT and telemetry go on regardless.
 */
import { afterEach, describe, expect, test } from "vitest";
import type { Simulation } from "../../host-shim/sim/simulation.js";
import { startSntpPeer, type SntpPeer } from "../helpers/sntp-peer.js";
import { simulate } from "./device-observer.js";

let sim: Simulation | undefined;
let peer: SntpPeer | undefined;

afterEach(async () => {
  await sim?.stop();
  await peer?.close();
  sim = undefined;
  peer = undefined;
});

describe("time on XS", () => {
  test("once WiFi is up the device asks the SNTP server, sets its clock and reports it synced", async () => {
    peer = await startSntpPeer("ok");
    sim = await simulate({ observeSensor: false, telemetryMs: 500, config: { sntp: peer.server } });
    const [s] = await sim.waitFor((s) => s[0].device?.time?.state === "synced", 20_000);
    const time = s.device!.time!;
    expect(time).toMatchObject({ server: peer.server, syncs: 1, error: undefined });
    expect(time.syncedAt).toBeGreaterThan(Date.UTC(2024, 0, 1));
    expect(s.device!.parts.time.state).toBe("running");
    expect(peer.requests).toHaveLength(1);
    expect(peer.requests[0]).toMatchObject({ version: 4, mode: 3, bytes: 48 });
    await sim.waitFor((s) => s[0].device?.healthy === true, 20_000);
  }, 60_000);

  test("a server that never answers: the status says timeout, the part retries later, MQTT and telemetry carry on", async () => {
    peer = await startSntpPeer("silent");
    sim = await simulate({ observeSensor: false, telemetryMs: 500, config: { sntp: peer.server } });
    const [s] = await sim.waitFor((s) => s[0].device?.time?.error === "timeout", 30_000);
    expect(s.device!.time!.state).toBe("failed");
    expect(s.device!.parts.time).toMatchObject({ state: "waiting", lastError: "timeout", restarts: 1 });
    expect(s.device!.parts.time.retryAt! - s.device!.parts.time.since).toBeGreaterThanOrEqual(15_000);
    const [h] = await sim.waitFor((s) => s[0].device?.healthy === true && s[0].device.counters.telemetrySent > 0, 20_000);
    expect(h.device!.mqtt.state).toBe("connected");
    expect(h.boots).toBe(1);
  }, 60_000);
});
