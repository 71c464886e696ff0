/**
 * examples/: each of the five classic programs as a mote app, run in the
 * simulator (the app on the XS engine, host-shim/sim/app.ts) against real
 * peers — mosquitto (with a password file and a TLS listener for 003),
 * libcoap's coap-server, Node's own TCP sockets — and checked by what the
 * peers saw and what the app printed.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as tcpConnect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { startApp } from "../../host-shim/sim/app.js";
import type { Simulation } from "../../host-shim/sim/simulation.js";
import { libcoapMissing, runLibcoapClient, startLibcoapServer, type LibcoapServer } from "../helpers/libcoap.js";
import { freePort, mosquittoSkipReason, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";

const root = join(__dirname, "..", "..");
const skip = mosquittoSkipReason() ?? libcoapMissing();

interface Run {
  sim: Simulation;
  lines: string[];
  /** The first line (now or later) matching `m`; rejects after `timeoutMs` with the app's last lines. */
  line(m: RegExp, timeoutMs?: number): Promise<string>;
}

let stateDir: string;
let running: Run | undefined;

async function runExample(name: string, options: { broker?: string; coap?: string; config?: Record<string, unknown> }): Promise<Run> {
  const lines: string[] = [];
  const sim = await startApp(join(root, "examples", name, "src", "main.ts"), {
    ...options,
    state: join(stateDir, name),
    onLog: (_device, l) => {
      lines.push(l);
      if (lines.length > 2000) lines.shift();
    },
  });
  const run: Run = {
    sim,
    lines,
    line(m, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      return new Promise((resolve, reject) => {
        const poll = () => {
          const found = lines.find((l) => m.test(l));
          if (found !== undefined) resolve(found);
          else if (Date.now() > deadline) reject(new Error(`no line matching ${m} in ${timeoutMs} ms; the app said:\n${lines.slice(-20).join("\n")}`));
          else setTimeout(poll, 50);
        };
        poll();
      });
    },
  };
  running = run;
  return run;
}

/** Messages an MQTT.js client sees on `filter`. */
async function observe(url: string, filter: string, options: mqtt.IClientOptions = {}): Promise<{ client: mqtt.MqttClient; seen: { topic: string; text: string; qos: number }[] }> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options });
  const seen: { topic: string; text: string; qos: number }[] = [];
  client.on("message", (topic, payload, packet) => seen.push({ topic, text: payload.toString(), qos: packet.qos }));
  await client.subscribeAsync(filter, { qos: 2 });
  return { client, seen };
}

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timeout: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skip !== undefined)("the five classic programs as mote apps, in the simulator against real peers", () => {
  let broker: Mosquitto;
  let coap: LibcoapServer;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), "mote-examples-"));
    broker = await startMosquitto();
    coap = await startLibcoapServer();
  }, 60_000);

  afterEach(async () => {
    await running?.sim.stop();
    running = undefined;
  });

  afterAll(async () => {
    await coap?.stop();
    await broker?.close();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  test("000 Go paho + go-coap: gets topic/test at QoS 1 for 3 s then unsubscribes and disconnects; GETs /other/sensor", async () => {
    expect((await runLibcoapClient(["-m", "put", "-e", "23.5", `${coap.url}/other/sensor`])).code).toBe(0);
    const publisher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    await publisher.publishAsync("topic/test", "retained for the subscriber", { qos: 1, retain: true });
    const app = await runExample("000-go-paho-coap", { broker: broker.url, coap: coap.url });
    expect(await app.line(/Response payload: 23\.5 \(2\.05\)/)).toBeDefined();
    expect(await app.line(/subscribed \(granted QoS 1\)/)).toBeDefined();
    expect(await app.line(/Received message: retained for the subscriber from topic: topic\/test/)).toBeDefined();
    await publisher.publishAsync("topic/test", "live", { qos: 1 });
    expect(await app.line(/Received message: live from topic: topic\/test/)).toBeDefined();
    await app.line(/disconnected/, 10_000);
    await publisher.publishAsync("topic/test", "", { qos: 1, retain: true }); // clears the retained message
    await publisher.endAsync();
  }, 60_000);

  test("001 Python paho + CoAPthon: subscribes in on_connect and prints topic and payload; GETs then POSTs /hello", async () => {
    expect((await runLibcoapClient(["-m", "put", "-e", "hi there", `${coap.url}/hello`])).code).toBe(0);
    const publisher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    await publisher.publishAsync("sensors/temperature", "21.5", { qos: 1, retain: true });
    const app = await runExample("001-python-paho-coapthon", { broker: broker.url, coap: coap.url });
    await app.line(/Connected \(session present: false\)/);
    expect(await app.line(/sensors\/temperature 21\.5/)).toBeDefined();
    expect(await app.line(/GET 2\.05 hi there/)).toBeDefined();
    expect(await app.line(/POST 2\.0[14]/)).toBeDefined();
    // The POST reached the server: the resource now holds "world".
    const after = await runLibcoapClient(["-m", "get", `${coap.url}/hello`]);
    expect(after.stdout.trim()).toBe("world");
    await publisher.publishAsync("sensors/temperature", "", { qos: 1, retain: true });
    await publisher.endAsync();
  }, 60_000);

  test("002 paho connect → subscribe → publish → loop: its own message comes back, then it disconnects", async () => {
    const watcher = await observe(broker.url, "example/topic");
    const app = await runExample("002-paho-loop", { broker: broker.url });
    await app.line(/Connected to broker/);
    expect(await app.line(/Received message: Hello, MQTT!/)).toBeDefined();
    await app.line(/Disconnected/);
    await until(() => watcher.seen.length > 0, "the watcher sees the publish");
    expect(watcher.seen[0]).toMatchObject({ topic: "example/topic", text: "Hello, MQTT!" });
    await watcher.client.endAsync();
  }, 60_000);

  test("004 raw TCP: its server answers a Node client; its client talks to a Node server", async () => {
    const received: string[] = [];
    const peer: Server = createServer((s) => {
      s.on("data", (d) => {
        received.push(d.toString());
        s.end("hello device");
      });
    });
    await new Promise<void>((r) => peer.listen(0, "127.0.0.1", r));
    const peerPort = (peer.address() as { port: number }).port;
    try {
      const app = await runExample("004-tcp-socket", { broker: broker.url, config: { port: 0, peer: `127.0.0.1:${peerPort}` } });
      expect(await app.line(/client received: hello device/)).toBeDefined();
      await app.line(/client closed/);
      expect(received.join("")).toBe("data from the IoT device");
      const port = Number(/listening on port (\d+)/.exec(await app.line(/listening on port \d+/))![1]);
      expect(port).toBeGreaterThan(0);
      const reply = await new Promise<string>((resolve, reject) => {
        const c = tcpConnect({ host: "127.0.0.1", port }, () => c.write("hi from Node"));
        let text = "";
        c.on("data", (d) => (text += d.toString()));
        c.on("end", () => resolve(text)); // the server closes after its answer
        c.on("error", reject);
        setTimeout(() => reject(new Error(`no close from the server; got "${text}"`)), 15_000).unref();
      });
      expect(reply).toBe("message from the server");
      expect(await app.line(/server received: hi from Node/)).toBeDefined();
    } finally {
      await new Promise((r) => peer.close(r));
    }
  }, 60_000);
});

function opensslMissing(): string | undefined {
  if (spawnSync("openssl", ["version"]).status === 0 || process.env.CI) return undefined;
  console.log("openssl is not installed; skipping the TLS example test");
  return "openssl missing";
}

describe.skipIf((mosquittoSkipReason() ?? opensslMissing()) !== undefined)("003 ESP32 PubSubClient sketch: user and password, QoS 0/1/2, TLS", () => {
  let broker: Mosquitto;
  let tlsPort: number;
  let certs: string;
  const user = { username: "esp", password: "esp-secret" };

  beforeAll(async () => {
    stateDir ??= mkdtempSync(join(tmpdir(), "mote-examples-"));
    certs = mkdtempSync(join(tmpdir(), "mote-example-tls-"));
    const openssl = (args: string[]) => {
      const r = spawnSync("openssl", args, { cwd: certs, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
    };
    writeFileSync(join(certs, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=mote example CA"]);
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
    openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext"]);
    tlsPort = await freePort();
    broker = await startMosquitto({
      users: [user],
      extraConfig: [`listener ${tlsPort} 127.0.0.1`, `cafile ${join(certs, "ca.crt")}`, `certfile ${join(certs, "server.crt")}`, `keyfile ${join(certs, "server.key")}`],
    });
  }, 60_000);

  afterEach(async () => {
    await running?.sim.stop();
    running = undefined;
  });

  afterAll(async () => {
    await broker?.close();
    if (certs) rmSync(certs, { recursive: true, force: true });
  });

  for (const qos of [0, 1, 2] as const) {
    test(`joins WiFi, logs in as ESP32Client and publishes every second at QoS ${qos}; its callback gets them back`, async () => {
      const watcher = await observe(broker.url, "test/topic", { ...user, clientId: `watch-${qos}` });
      const app = await runExample("003-esp32-pubsubclient", { broker: broker.url, config: { mqttUser: user.username, mqttPass: user.password, qos } });
      await app.line(/WiFi connected, IP address: /);
      await app.line(/^info connected$/);
      expect(await app.line(/Message arrived \[test\/topic\] Hello from ESP32 2/, 20_000)).toBeDefined();
      await until(() => watcher.seen.filter((m) => m.text.startsWith("Hello from ESP32")).length >= 2, "two publishes seen by the watcher");
      const first = watcher.seen.find((m) => m.text === "Hello from ESP32 1");
      expect(first?.qos).toBe(qos); // the watcher subscribed at QoS 2: it gets the publisher's QoS
      await watcher.client.endAsync();
    }, 60_000);
  }

  test("a wrong password is refused, and the app keeps retrying instead of blocking", async () => {
    const app = await runExample("003-esp32-pubsubclient", { broker: broker.url, config: { mqttUser: user.username, mqttPass: "wrong", qos: 1 } });
    await app.line(/failed, rc=connect-refused/);
    await until(() => app.lines.filter((l) => l.includes("failed, rc=connect-refused")).length >= 2, "a second attempt");
    expect(app.lines.some((l) => /^info connected$/.test(l))).toBe(false);
  }, 60_000);

  test("over TLS (mqtts://, the broker's CA given as PEM) it connects and publishes", async () => {
    const watcher = await observe(broker.url, "test/topic", { ...user, clientId: "watch-tls" });
    const ca = readFileSync(join(certs, "ca.crt"), "utf8");
    const app = await runExample("003-esp32-pubsubclient", {
      broker: `mqtt://127.0.0.1:${tlsPort}`,
      config: { mqttUser: user.username, mqttPass: user.password, qos: 1, ca },
    });
    await app.line(/^info connected$/, 30_000);
    await until(() => watcher.seen.some((m) => m.text === "Hello from ESP32 1"), "the TLS client's publish, seen on the plain listener");
    await watcher.client.endAsync();
  }, 60_000);
});
