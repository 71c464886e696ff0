/**
 * Secrets never leave the device (docs/security.md): `mote sim` (cli/sim.ts; the device
 * program on XS) runs with every secret set — the WiFi password, the MQTT
 * user name and password (provisioned in its preferences), the OTA key
 * (`--ota-key`) — and is sent, while it runs, a plain config carrying
 * secrets (refused), a signed config carrying a new MQTT password (accepted)
 * and a ping. Everything it prints — the `--json` status lines, the log of a
 * plain run, stderr — and every message it publishes is searched for each
 * secret value: none may appear.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { main } from "../../cli/sim.js";
import { macFor } from "../../host-shim/sim/simulation.js";
import { keyId } from "../../src/app/security.js";
import { freePort } from "../helpers/mosquitto.js";
import { signedConfig, testKey } from "../helpers/security-fixtures.js";

const FLEET = testKey();
const SECRETS: Record<string, string> = {
  wifiPassword: "mote-sim-pass", // the simulator's network password, built into the device
  mqttUser: "user-7f3a9c-secret",
  mqttPass: "pass-51d0e2-secret",
  newMqttPass: "pass-b8c4a6-rotated",
  otaKeyHex: FLEET.hex,
  otaKeyPem: FLEET.pem.split("\n")[1], // the first base64 line of the PEM body
};
// A named fleet: the simulator draws device ids from it (mote sim --fleet), so the
// test knows the id before the device boots.
const FLEET_NAME = "secrets-test";
const ID = `mote-${macFor(0, FLEET_NAME).replace(/:/g, "")}`;
const BASE = `mote/${ID}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  code: number | null;
  printed: string;
  published: string[];
}

async function connectWhenUp(url: string, deadline: number): Promise<MqttClient> {
  for (let i = 0; i < 300 && Date.now() < deadline; i++) {
    try {
      return await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 2000 });
    } catch {
      await sleep(200);
    }
  }
  throw new Error(`no broker at ${url}`);
}

/**
 * `mote sim ARGS` (cli/sim.ts, in this process, its stdout and stderr captured
 * as sim-cli.test.ts does); once the device is online, `during(client)` sends commands.
 */
async function runSim(args: string[], during: (client: MqttClient) => Promise<void>): Promise<Run> {
  const port = await freePort();
  const printed: string[] = [];
  const o = vi.spyOn(process.stdout, "write").mockImplementation((chunk: unknown) => (printed.push(String(chunk)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown) => (printed.push(String(chunk)), true));
  const published: string[] = [];
  let code: number | null = null;
  try {
    const running = main([...args, "--broker-port", String(port)]);
    const client = await connectWhenUp(`mqtt://127.0.0.1:${port}`, Date.now() + 60_000);
    client.on("message", (t, p) => void published.push(`${t} ${p.toString()}`));
    await client.subscribeAsync(`${BASE}/#`, { qos: 1 });
    const online = Date.now() + 60_000;
    while (!published.includes(`${BASE}/status online`) && Date.now() < online) await sleep(100);
    // Without the device online the commands below would wait on a broker that --for has closed.
    if (!published.includes(`${BASE}/status online`)) throw new Error(`${ID} never said online; published: ${published.slice(0, 5).join(" | ")}`);
    await during(client);
    const replies = Date.now() + 20_000;
    const answered = () => published.filter((s) => s.startsWith(`${BASE}/reply/`) || s.startsWith(`${BASE}/pong`)).length >= 3;
    while (!(answered() && published.some((s) => s.startsWith(`${BASE}/telemetry`))) && Date.now() < replies) await sleep(100);
    await client.endAsync();
    code = await running;
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  // the commands the test itself sent are not the device's output
  return { code, printed: printed.join(""), published: published.filter((s) => !s.startsWith(`${BASE}/cmd/`)) };
}

describe("no secret in anything the simulator prints or publishes (mote sim --json, and its log)", () => {
  let state: string;
  const runs: Run[] = [];

  beforeAll(async () => {
    state = mkdtempSync(join(tmpdir(), "mote-secrets-"));
    const prefs = join(state, macFor(0, FLEET_NAME).replace(/:/g, ""), "preferences");
    mkdirSync(prefs, { recursive: true });
    // Provisioning: the MQTT credentials in the device's preferences.
    writeFileSync(join(prefs, "mote.json"), JSON.stringify({ mqttUser: SECRETS.mqttUser, mqttPass: SECRETS.mqttPass }));
    const keyFile = join(state, "fleet.pub");
    writeFileSync(keyFile, FLEET.pem);
    let counter = 0;
    for (const json of [true, false]) {
      runs.push(
        await runSim(["--state", state, "--fleet", FLEET_NAME, "--ota-key", keyFile, "--for", "12", "--telemetry", "1000", ...(json ? ["--json"] : [])], async (client) => {
          await client.publishAsync(`${BASE}/cmd/config`, JSON.stringify({ mqttPass: SECRETS.mqttPass, password: SECRETS.wifiPassword }), { qos: 1 });
          await client.publishAsync(`${BASE}/cmd/signed`, signedConfig(FLEET, { mqttPass: SECRETS.newMqttPass }, ++counter), { qos: 1 });
          await client.publishAsync(`${BASE}/cmd/ping`, "{}", { qos: 1 });
        }),
      );
    }
  }, 360_000);

  afterAll(() => {
    if (state) rmSync(state, { recursive: true, force: true });
  });

  test("both runs ran the device: status lines, the log, and the replies to the commands are there", () => {
    const [json, plain] = runs;
    if (process.env.MOTE_LOG) for (const r of runs) console.log(r.printed.slice(0, 3000), r.published.slice(0, 10));
    expect(json.printed).toContain('"devices"');
    expect(plain.printed).toContain("app: starting");
    for (const r of runs) {
      expect(r.published.some((m) => m.startsWith(`${BASE}/reply/config`) && m.includes("signature-required"))).toBe(true);
      expect(r.published.some((m) => m.startsWith(`${BASE}/reply/signed`) && m.includes('"ok":true'))).toBe(true);
      expect(r.published.some((m) => m.startsWith(`${BASE}/telemetry`))).toBe(true);
    }
    // what the device shows of its key instead
    expect(plain.printed).toContain(keyId(FLEET.pub)!);
  });

  test.each(Object.keys(SECRETS))("%s appears in no output", (name) => {
    const secret = SECRETS[name];
    for (const r of runs) {
      const printedAt = r.printed.indexOf(secret);
      expect(printedAt, `printed: …${r.printed.slice(Math.max(0, printedAt - 120), printedAt + 40)}`).toBe(-1);
      const leak = r.published.find((m) => m.includes(secret));
      expect(leak).toBeUndefined();
    }
  });
});
