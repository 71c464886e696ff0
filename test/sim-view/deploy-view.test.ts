/**
 * `mote ota deploy --view 0`: the rollout's progress is served by the fleet
 * view (host-shim/sim/view.ts) while it runs. A real broker (aedes) and a
 * device with the real OTA agent on the simulated board (test/interop helpers);
 * the view is read over HTTP while the deploy goes on.
 */
import { mkdtempSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { afterAll, beforeAll, expect, test, vi } from "vitest";

vi.mock("mote/ota-boot", async () => await import("../../host-shim/node/ota-boot.js"));

import { startOtaServer, type OtaServer } from "../../cli/ota-serve.js";
import { main } from "../../cli/ota.js";
import { bootRecord, provisionSim } from "../../host-shim/node/ota.js";
import type { FleetViewSnapshot } from "../../host-shim/sim/view.js";
import { freshBoard, makeAgent, makeImage, publish } from "../interop/ota-helpers.js";

let broker: Aedes;
let tcp: Server;
let brokerUrl: string;
let www: string;
let http: OtaServer;
let device: mqtt.MqttClient;

beforeAll(async () => {
  broker = await Aedes.createBroker();
  tcp = createServer(broker.handle);
  await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
  brokerUrl = `mqtt://127.0.0.1:${(tcp.address() as AddressInfo).port}`;
  www = mkdtempSync(join(tmpdir(), "mote-deploy-view-"));
  http = await startOtaServer({ dir: www });
});

afterAll(async () => {
  await device?.endAsync(true);
  await http.close();
  await new Promise<void>((r) => broker.close(() => r()));
  await new Promise<void>((r) => tcp.close(() => r()));
});

test("deploy --view serves the rollout's progress while it runs, and closes the view at the end", async () => {
  freshBoard();
  provisionSim({ image: makeImage(10_000, 1), version: "1.0.0" });
  const id = "dev-view";
  const agent = makeAgent({ runningVersion: "1.0.0", board: "sim" });
  device = await mqtt.connectAsync(brokerUrl, { clientId: id, reconnectPeriod: 0 });
  let version = "1.0.0";
  let boot = 1;
  const announce = () => void device.publish(`mote/${id}/announce`, JSON.stringify({ id, version, boot }), { qos: 1 });
  await device.subscribeAsync([`mote/${id}/cmd/ota`, `mote/${id}/cmd/hello`], { qos: 1 });
  device.on("message", (topic, payload) => {
    if (topic.endsWith("/hello")) return announce();
    agent.start(new Uint8Array(payload), (e) => {
      void device.publish(`mote/${id}/reply/ota`, JSON.stringify(e), { qos: 1 });
      if (e.type === "done") {
        const record = bootRecord();
        version = record.slots[record.active].version;
        boot++;
        // the verdict waits until the view has been read during the rollout
        const later = () => (seen.length > 0 || polls >= 200 ? announce() : setTimeout(later, 50));
        later();
      }
    });
  });
  publish(www, "app-2.0.0.bin", makeImage(90_000, 2), { version: "2.0.0", baseUrl: http.url });

  const seen: FleetViewSnapshot[] = [];
  let polls = 0;
  let url: string | undefined;
  let watching: Promise<void> | undefined;
  const watch = async (u: string) => {
    for (; polls < 200; polls++) {
      try {
        const s = (await (await fetch(`${u}api/status`)).json()) as FleetViewSnapshot;
        if (s.rollout !== undefined) seen.push(s);
        if (seen.length > 0) return;
      } catch {
        return; // closed
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const out: string[] = [];
  const status = await main(["deploy", "--broker", brokerUrl, "--device", id, "--timeout", "20", "--view", "0", join(www, "app-2.0.0.json")], {
    out: (l) => {
      out.push(l);
      const m = /^view (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(l);
      if (m !== null) watching = watch((url = m[1]));
    },
    err: () => undefined,
  });
  await watching;
  expect(status).toBe(0);
  expect(url).toBeDefined();
  expect(seen.length).toBeGreaterThan(0);
  const r = seen[0].rollout!;
  expect(r.version).toBe("2.0.0");
  expect(r.stage).toBe(0);
  expect(r.devices.map((d) => d.id)).toEqual([id]);
  expect(["sent", "installing", "rebooting"]).toContain(r.devices[0].phase);
  // no simulator behind it: no rows, no fault buttons
  expect(seen[0].devices).toEqual([]);
  expect(seen[0].faults).toEqual([]);
  // the view is closed once the deploy ends
  await expect(fetch(`${url}api/status`)).rejects.toThrow();
});
