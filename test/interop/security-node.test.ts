/**
 * The device program on Node (src/app/program.ts `startDevice`, the host
 * modules bound to their Node twins), connected over TLS (mqtts, the test CA
 * as its build-time `mqttCa`) to mosquitto: the whole wiring — trust record
 * loaded before the configuration, platform preferences, P-256 verify — on
 * real sockets:
 *   - the two takeover messages of issue 21 and a TLS downgrade are refused;
 *   - a rotation signed by the current key is accepted, a replay and a wrong
 *     key refused;
 *   - the rotation survives a restart of the program, and a cut in the middle
 *     of its save (the preference write lost, or half-written) restarts with
 *     the old key and counter, after which the same rotation succeeds.
 * Needs mosquitto and openssl: under CI their absence fails; elsewhere skipped with the reason printed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startDevice } from "../../src/app/program.js";
import { platformOta } from "../../src/app/ota.js";
import type { DeviceApp } from "../../src/app/device.js";
import { keyId } from "../../src/app/security.js";
import { configureHardware } from "../../host-shim/node/hardware.js";
import { setBuildConfig } from "../../host-shim/node/config.js";
import { freePort, makeTlsFiles, mosquittoSkipReason, opensslSkipReason, startMosquitto, tlsListener, type Mosquitto } from "../helpers/mosquitto.js";
import { rotation, signedConfig, takeoverMessages, changedTrustSlot, testKey, tornTrust } from "../helpers/security-fixtures.js";

const skip = mosquittoSkipReason() ?? opensslSkipReason();
const ID = "node-sec-1";
const BASE = `mote/${ID}`;
const FLEET = testKey();
const NEXT = testKey();
const ATTACKER = testKey();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip !== undefined)("security of the command channel: the device program on Node's twins (mqtts)", () => {
  let broker: Mosquitto;
  let observer: MqttClient;
  let app: DeviceApp;
  let state: string;
  let tlsDir: string;
  const reboots: string[] = [];
  const seen: { topic: string; text: string }[] = [];
  const on = (t: string) => seen.filter((m) => m.topic === t).map((m) => JSON.parse(m.text) as Record<string, unknown>);

  async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms; status ${JSON.stringify(app?.status())}`);
      await sleep(25);
    }
  }
  // A refusal names no counter, so any refusal after `before` is taken for this
  // message's — unless the caller expects an acceptance: a QoS 1 command that the
  // stopped device never acknowledged comes again after the restart (at least once,
  // MQTT 3.1.1 §4.3.2) and its second refusal must not be read as this message's reply.
  async function send(name: string, payload: string, expect: "any" | "accepted" = "any"): Promise<Record<string, unknown>> {
    const counter = name === "signed" ? (JSON.parse(payload) as { counter: number }).counter : undefined;
    const mine = (r: Record<string, unknown>) =>
      expect === "accepted" ? r.ok === true && (counter === undefined || r.counter === counter) : counter === undefined || r.ok === false || r.counter === counter;
    const before = on(`${BASE}/reply/${name}`).length;
    await observer.publishAsync(`${BASE}/cmd/${name}`, payload, { qos: 1 });
    await until(() => on(`${BASE}/reply/${name}`).slice(before).some(mine), `reply/${name}`);
    return on(`${BASE}/reply/${name}`).slice(before).find(mine)!;
  }
  async function boot(): Promise<void> {
    app = startDevice({ otaFactory: platformOta, reboot: (why) => void reboots.push(why) });
    await until(() => app.status().mqtt.state === "connected", "connected", 30_000);
  }
  const trustFile = () => join(state, "preferences", "mote-trust.json");

  beforeAll(async () => {
    tlsDir = mkdtempSync(join(tmpdir(), "mote-node-sec-tls-"));
    const files = makeTlsFiles(tlsDir);
    const tlsPort = await freePort();
    broker = await startMosquitto({ extraConfig: tlsListener(tlsPort, files, files.serverCert, files.serverKey) });
    observer = await mqtt.connectAsync(broker.url, { clientId: "node-sec-observer", reconnectPeriod: 0 });
    observer.on("message", (t, p) => void seen.push({ topic: t, text: p.toString() }));
    await observer.subscribeAsync(`${BASE}/#`, { qos: 1 });
    state = mkdtempSync(join(tmpdir(), "mote-node-sec-"));
    configureHardware({ stateDir: state });
    setBuildConfig({
      broker: `mqtts://127.0.0.1:${tlsPort}`,
      mqttCa: readFileSync(files.caPem, "utf8"),
      clientId: ID,
      otaKey: FLEET.hex,
      telemetryMs: 1000,
      coapObserve: undefined,
    });
    await boot();
  }, 60_000);

  afterAll(async () => {
    app?.stop();
    setBuildConfig({ broker: undefined, mqttCa: undefined, clientId: undefined, otaKey: undefined, telemetryMs: undefined });
    await observer?.endAsync();
    await broker?.close();
    for (const d of [state, tlsDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  test("the takeover messages and a TLS downgrade are refused with their codes; nothing is saved, no reboot", async () => {
    const attack = takeoverMessages(ATTACKER);
    expect(await send("config", attack.otaKey)).toMatchObject({ ok: false, code: "trust-anchor" });
    expect(await send("config", attack.broker)).toMatchObject({ ok: false, code: "tls-downgrade" });
    expect(await send("config", JSON.stringify({ broker: "mqtts://127.0.0.2:8883", reboot: true }))).toMatchObject({ ok: false, code: "signature-required" });
    expect(await send("signed", signedConfig(FLEET, { broker: `mqtt://127.0.0.1:${broker.port}` }, 1, true))).toMatchObject({ ok: false, code: "tls-downgrade" });
    await sleep(300);
    expect(reboots).toEqual([]);
    expect(existsSync(trustFile())).toBe(false);
    const stored = join(state, "preferences", "mote.json");
    if (existsSync(stored)) expect(Object.keys(JSON.parse(readFileSync(stored, "utf8")) as object)).not.toContain("otaKey");
    expect(app.status().security).toMatchObject({ otaKey: keyId(FLEET.pub), counter: 0, refused: 4 });
  });

  test("a signed rotation is accepted and survives a restart; a replay and a wrong key are refused", async () => {
    const first = rotation(FLEET, NEXT, 1, ID);
    expect(await send("signed", first)).toEqual({ ok: true, type: "rotate-key", counter: 1, otaKey: keyId(NEXT.pub) });
    expect(await send("signed", first)).toMatchObject({ ok: false, code: "replay" });
    expect(await send("signed", rotation(ATTACKER, ATTACKER, 2))).toMatchObject({ ok: false, code: "bad-signature" });
    app.stop();
    await boot();
    expect(app.status().security).toMatchObject({ otaKey: keyId(NEXT.pub), counter: 1 });
  }, 60_000);

  test("a cut in the middle of saving a rotation (write lost, or half-written): the old key and counter, then the same rotation succeeds", async () => {
    let counter = 1;
    let from = NEXT;
    let to = FLEET;
    for (const cut of ["lost", "half"] as const) {
      const before = JSON.parse(readFileSync(trustFile(), "utf8")) as Record<string, { bytes: string }>;
      const message = rotation(from, to, counter + 1);
      expect(await send("signed", message, "accepted")).toMatchObject({ ok: true, counter: counter + 1 });
      app.stop();
      const after = JSON.parse(readFileSync(trustFile(), "utf8")) as Record<string, { bytes: string }>;
      const slot = changedTrustSlot(before, after);
      const torn = tornTrust(before, after, slot, cut);
      writeFileSync(trustFile(), JSON.stringify(torn));
      await boot();
      expect(app.status().security).toMatchObject({ otaKey: keyId(from.pub), counter });
      expect(await send("signed", message, "accepted")).toMatchObject({ ok: true, counter: counter + 1 });
      counter++;
      [from, to] = [to, from];
      app.stop();
      await boot();
      expect(app.status().security).toMatchObject({ otaKey: keyId(from.pub), counter });
    }
  }, 90_000);
});
