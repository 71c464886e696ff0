/**
 * `mote ota deploy` end to end: the CLI publishes the signed descriptor over a
 * real broker (aedes, in-process) to devices running the real OTA agent on the
 * simulated board; it follows their progress and exits per outcome.
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
import { bootRecord, provisionSim, simulateBoot } from "../../host-shim/node/ota.js";
import { freshBoard, makeAgent, makeImage, publish } from "./ota-helpers.js";

let broker: Aedes;
let tcp: Server;
let brokerUrl: string;
let www: string;
let http: OtaServer;
const devices: mqtt.MqttClient[] = [];

beforeAll(async () => {
  broker = await Aedes.createBroker();
  tcp = createServer(broker.handle);
  await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
  brokerUrl = `mqtt://127.0.0.1:${(tcp.address() as AddressInfo).port}`;
  www = mkdtempSync(join(tmpdir(), "mote-ota-deploy-"));
  http = await startOtaServer({ dir: www });
});

afterAll(async () => {
  for (const d of devices) await d.endAsync(true);
  await http.close();
  await new Promise<void>((r) => broker.close(() => r()));
  await new Promise<void>((r) => tcp.close(() => r()));
});

/**
 * A device: MQTT client + the OTA agent, replying on <prefix>/<id>/reply/ota
 * like the device program, and answering hellos on <prefix>/<id>/announce. After
 * "done" it boots the simulated board (the bootloader's choice) and announces
 * the version of the slot it will boot, as the program does on its next connect.
 */
async function device(id: string, board: string): Promise<mqtt.MqttClient> {
  const agent = makeAgent({ runningVersion: "1.0.0", board });
  const c = await mqtt.connectAsync(brokerUrl, { clientId: id, reconnectPeriod: 0 });
  devices.push(c);
  let version = "1.0.0";
  let boot = 1;
  const announce = () => void c.publish(`mote/${id}/announce`, JSON.stringify({ id, version, boot }), { qos: 1 });
  await c.publishAsync(`mote/${id}/status`, "online", { retain: true, qos: 1 });
  await c.subscribeAsync([`mote/${id}/cmd/ota`, `mote/${id}/cmd/hello`], { qos: 1 });
  await c.subscribeAsync("mote/fleet/hello", { qos: 0 });
  c.on("message", (topic, payload) => {
    if (topic.endsWith("/hello")) return announce();
    agent.start(new Uint8Array(payload), (e) => {
      void c.publish(`mote/${id}/reply/ota`, JSON.stringify(e), { qos: 1 });
      if (e.type === "done") {
        const record = bootRecord(); // the slot the bootloader will boot (the test boots it below)
        version = record.slots[record.active].version;
        boot++;
        announce();
      }
    });
  });
  return c;
}

/** The device goes away: its retained status is cleared so --all no longer finds it. */
async function retire(c: mqtt.MqttClient, id: string): Promise<void> {
  await c.publishAsync(`mote/${id}/status`, "", { retain: true, qos: 1 });
  await c.endAsync(true);
}

function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  return main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }).then((status) => ({ status, out, err }));
}

test("deploys to one device, shows its progress and exits 0 when it reports done", async () => {
  freshBoard();
  provisionSim({ image: makeImage(10_000, 1), version: "1.0.0" });
  const c = await device("dev-ok", "sim");
  publish(www, "app-2.0.0.bin", makeImage(90_000, 2), { version: "2.0.0", baseUrl: http.url });
  const r = await run("deploy", "--broker", brokerUrl, "--device", "dev-ok", "--timeout", "20", join(www, "app-2.0.0.json"));
  expect(r.err).toEqual([]);
  expect(r.status).toBe(0);
  expect(r.out.some((l) => /^dev-ok \[#+-*\] download \d+\/90000$/.test(l))).toBe(true);
  // the verdict is the device's announce of the new version after its reboot, then the table
  expect(r.out).toContain("dev-ok done: 2.0.0");
  expect(r.out.at(-1)).toBe("1 ok, 0 failed, 0 not done (finished)");
  expect(r.out.some((l) => /^dev-ok\s+canary\s+ok\s+1\.0\.0 -> 2\.0\.0/.test(l))).toBe(true);
  expect(simulateBoot().version).toBe("2.0.0");
  await retire(c, "dev-ok");
});

test("with --all, every online device gets it; a refusing device makes the exit status 1 and names its code", async () => {
  freshBoard();
  provisionSim({ image: makeImage(10_000, 1), version: "1.0.0" });
  await device("dev-a", "sim");
  await device("dev-wrong", "esp32/other");
  publish(www, "app-2.1.0.bin", makeImage(50_000, 3), { version: "2.1.0", baseUrl: http.url });
  const r = await run("deploy", "--broker", brokerUrl, "--all", "--discover", "300", "--timeout", "20", join(www, "app-2.1.0.json"));
  expect(r.status).toBe(1);
  expect(r.out).toContain("dev-a done: 2.1.0");
  expect(r.out.some((l) => l.startsWith("dev-ok"))).toBe(false);
  expect(r.err).toEqual([expect.stringMatching(/^mote: wrong-board: device dev-wrong/)]);
});

test("usage errors exit 2; a malformed descriptor file is refused before anything is sent", async () => {
  expect((await run("deploy", "--broker", brokerUrl, join(www, "app-2.0.0.json"))).status).toBe(2);
  const bad = join(www, "bad.json");
  (await import("node:fs")).writeFileSync(bad, "{}");
  const r = await run("deploy", "--broker", brokerUrl, "--device", "x", bad);
  expect(r.status).toBe(1);
  expect(r.err[0]).toMatch(/^mote: bad-descriptor/);
});

test("--devices FILE, --json, --resume: a halted rollout goes on from its state file with a new failure allowance; a finished one is not resumed", async () => {
  freshBoard();
  provisionSim({ image: makeImage(10_000, 1), version: "1.0.0" });
  await device("dev-r1", "esp32/other"); // refuses: wrong board
  await device("dev-r2", "sim");
  await device("dev-r3", "sim");
  publish(www, "app-2.2.0.bin", makeImage(40_000, 4), { version: "2.2.0", baseUrl: http.url });
  const state = join(www, "r.json");
  const list = join(www, "devices.txt");
  (await import("node:fs")).writeFileSync(list, "# the canary first\ndev-r1\ndev-r2\ndev-r3\n");
  const first = await run("deploy", "--broker", brokerUrl, "--devices", list, "--canary", "1", "--wave", "1", "--timeout", "20", "--json", "--state", state, join(www, "app-2.2.0.json"));
  expect(first.status).toBe(1);
  const j1 = JSON.parse(first.out.at(-1)!) as { state: string; failed: number; notSent: number; devices: { id: string; result: string; code?: string }[] };
  expect(j1).toMatchObject({ state: "halted", failed: 1, notSent: 2 });
  expect(j1.devices[0]).toMatchObject({ id: "dev-r1", result: "failed", code: "wrong-board" });
  expect(first.err).toEqual([expect.stringMatching(/^mote: wrong-board: device dev-r1/)]);

  // the operator allows one failure and resumes: dev-r1 fails again, dev-r2 and dev-r3 take it one by one
  const second = await run("deploy", "--broker", brokerUrl, "--resume", state, "--max-failures", "1", "--timeout", "20");
  expect(second.status).toBe(1); // dev-r1 never took it
  expect(second.out).toContain("dev-r2 done: 2.2.0");
  expect(second.out).toContain("dev-r3 done: 2.2.0");
  expect(second.out.at(-1)).toBe("2 ok, 1 failed, 0 not done (finished)");
  const saved = JSON.parse((await import("node:fs")).readFileSync(state, "utf8")) as { state: string; devices: { id: string; phase: string }[] };
  expect(saved.state).toBe("finished");
  expect(saved.devices.map((d) => d.phase)).toEqual(["failed", "succeeded", "succeeded"]);
  const third = await run("deploy", "--broker", brokerUrl, "--resume", state);
  expect(third.status).toBe(1);
  expect(third.err[0]).toMatch(/^mote: finished: /);
});
