/**
 * examples/ on Moddable's own runtime: every example bundled by
 * `mote app build` (mote left as imports) and all five built in ONE mcconfig
 * -p lin run on manifest_lib.json (one shared build keeps CI time down: the
 * library is compiled and preloaded once), as modules "examples/000" …; the
 * build's main imports the one named in the device's preferences. Then each
 * runs headless against mosquitto, libcoap's coap-server and Node sockets.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { buildApp } from "../../cli/app.js";
import { buildManifest } from "../../host-shim/moddable/build.js";
import { ModdableDevice, writePreferences } from "../../host-shim/moddable/run.js";
import { findModdable, moddableMissing, type ModdableSdk } from "../../host-shim/moddable/sdk.js";
import { libcoapMissing, runLibcoapClient, startLibcoapServer, type LibcoapServer } from "../helpers/libcoap.js";
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";

const root = join(__dirname, "..", "..");
const EXAMPLES = ["000-go-paho-coap", "001-python-paho-coapthon", "002-paho-loop", "003-esp32-pubsubclient", "004-tcp-socket"];
const skip = moddableMissing() ?? mosquittoSkipReason() ?? libcoapMissing();

describe.skipIf(skip !== undefined)("examples built for Moddable's lin runtime (one mcconfig run) and run headless", () => {
  let sdk: ModdableSdk;
  let dir: string;
  let so: string;
  let broker: Mosquitto;
  let coap: LibcoapServer;
  let peer: Server;
  const peerReceived: string[] = [];
  let device: ModdableDevice | undefined;

  beforeAll(async () => {
    sdk = findModdable() as ModdableSdk;
    dir = mkdtempSync(join(tmpdir(), "mote-examples-lin-"));
    broker = await startMosquitto();
    coap = await startLibcoapServer();
    peer = createServer((s) => s.on("data", (d) => (peerReceived.push(d.toString()), s.end("hello device"))));
    await new Promise<void>((r) => peer.listen(0, "127.0.0.1", r));
    const modules: Record<string, string> = {};
    for (const name of EXAMPLES) {
      const out = await buildApp(join(root, "examples", name, "src", "main.ts"), join(dir, "mods", name));
      modules[`examples/${name.slice(0, 3)}`] = out.slice(0, -3);
    }
    // Moddable's main: the example named by preference examples.run (boards/desktop/preference.js reads modpreferences.json).
    writeFileSync(join(dir, "main.js"), 'import Preference from "preference";\nconst name = Preference.get("examples", "run");\nif (typeof name === "string") import(name).catch((e) => trace(`example ${name}: ${e}\\n`));\nelse trace("no example named\\n");\n');
    modules.main = join(dir, "main");
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ include: [join(root, "manifest_lib.json")], modules }, null, 2));
    const config = ["ssid=lab", "password=lab-pass", `broker=mqtt://127.0.0.1:${broker.port}`, `coap=${coap.url}`, "port=0", `peer=127.0.0.1:${(peer.address() as { port: number }).port}`, "qos=1"];
    so = await buildManifest(join(dir, "manifest.json"), join(dir, "build"), sdk, { config });
  }, 900_000);

  afterEach(async () => {
    await device?.stop();
    device = undefined;
  });

  afterAll(async () => {
    await new Promise((r) => peer?.close(r));
    await coap?.stop();
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function start(example: string): ModdableDevice {
    const home = join(dir, "run", example);
    writePreferences(home, { examples: { run: `examples/${example}` } });
    device = new ModdableDevice(so, sdk, home, { onLine: process.env.MOTE_LOG ? (l) => console.log(`[${example}] ${l}`) : undefined });
    device.start();
    return device;
  }

  test("000: gets the retained message on topic/test, GETs /other/sensor, unsubscribes and disconnects after 3 s", async () => {
    expect((await runLibcoapClient(["-m", "put", "-e", "19.25", `${coap.url}/other/sensor`])).code).toBe(0);
    const pub = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    await pub.publishAsync("topic/test", "for lin", { qos: 1, retain: true });
    const d = start("000");
    await d.waitFor(/Response payload: 19\.25 \(2\.05\)/, 20_000);
    await d.waitFor(/Received message: for lin from topic: topic\/test/, 20_000);
    await d.waitFor(/disconnected/, 20_000);
    await pub.publishAsync("topic/test", "", { qos: 1, retain: true });
    await pub.endAsync();
  }, 60_000);

  test("001: subscribes on connect and prints topic and payload; GET then POST /hello", async () => {
    expect((await runLibcoapClient(["-m", "put", "-e", "from libcoap", `${coap.url}/hello`])).code).toBe(0);
    const pub = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    await pub.publishAsync("sensors/temperature", "18.0", { qos: 1, retain: true });
    const d = start("001");
    await d.waitFor(/sensors\/temperature 18\.0/, 20_000);
    await d.waitFor(/GET 2\.05 from libcoap/, 20_000);
    await d.waitFor(/POST 2\.0[14]/, 20_000);
    expect((await runLibcoapClient(["-m", "get", `${coap.url}/hello`])).stdout.trim()).toBe("world");
    await pub.publishAsync("sensors/temperature", "", { qos: 1, retain: true });
    await pub.endAsync();
  }, 60_000);

  test("002: its own Hello, MQTT! comes back, then it disconnects", async () => {
    const d = start("002");
    await d.waitFor(/Received message: Hello, MQTT!/, 20_000);
    await d.waitFor(/Disconnected/, 20_000);
  }, 60_000);

  test("003: as ESP32Client, publishes every second at QoS 1 and gets them back", async () => {
    const watcher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, clientId: "lin-watch-003" });
    const seen: { text: string; qos: number }[] = [];
    watcher.on("message", (_t, p, packet) => seen.push({ text: p.toString(), qos: packet.qos }));
    await watcher.subscribeAsync("test/topic", { qos: 2 });
    const d = start("003");
    await d.waitFor(/Message arrived \[test\/topic\] Hello from ESP32 2/, 20_000);
    expect(seen.find((m) => m.text === "Hello from ESP32 1")?.qos).toBe(1);
    await watcher.endAsync();
  }, 60_000);

  test("004: its client talks to a Node server; its server listens", async () => {
    const d = start("004");
    await d.waitFor(/client received: hello device/, 20_000);
    await d.waitFor(/listening on port \d+/, 5_000);
    expect(peerReceived).toContain("data from the IoT device");
  }, 60_000);
});
