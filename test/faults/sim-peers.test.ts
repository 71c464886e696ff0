/**
 * The simulator's peers and fault proxies over real sockets on 127.0.0.1:
 * MQTT.js through the TCP proxy to the embedded aedes, node-coap through the
 * UDP proxy to the embedded CoAP server. No XS here: these are the pieces the
 * XS-tier tests stand on, checked on their own.
 */
import { afterEach, describe, expect, test } from "vitest";
import mqtt from "mqtt";
import * as coap from "coap";
import { startBroker, startCoapServer, startUpdateServer, largeResource } from "../../host-shim/sim/peers.js";
import { TcpFaultProxy, UdpFaultProxy, parseFault } from "../../host-shim/sim/faults.js";
import { parseSimArgs } from "../../host-shim/sim/args.js";
import { startSimulation } from "../../host-shim/sim/simulation.js";

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function waitFor<T>(f: (resolve: (v: T) => void) => void, ms = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("timeout")), ms);
    f((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

function coapGet(port: number, path: string, extra: Partial<coap.CoapRequestParams> = {}): Promise<{ code: string; payload: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = coap.request({ hostname: "127.0.0.1", port, pathname: path, agent: new coap.Agent({ type: "udp4" }), ...extra });
    req.on("response", (res: coap.IncomingMessage) => resolve({ code: res.code, payload: res.payload }));
    req.on("error", reject);
    req.on("timeout", () => reject(new Error("timeout")));
    req.end();
  });
}

describe("fault specs", () => {
  test("parse times, durations and loss rates", () => {
    expect(parseFault("wifi-drop@10s")).toEqual({ kind: "wifi-drop", atMs: 10_000, durationMs: undefined });
    expect(parseFault("broker-restart@1.5s+500ms")).toEqual({ kind: "broker-restart", atMs: 1500, durationMs: 500 });
    expect(parseFault("power-cut@2m")).toEqual({ kind: "power-cut", atMs: 120_000, durationMs: undefined });
    expect(parseFault("loss=0.3")).toEqual({ kind: "loss", rate: 0.3, atMs: 0 });
    expect(parseFault("loss=0.5@3s")).toEqual({ kind: "loss", rate: 0.5, atMs: 3000 });
  });

  test("refuse anything else with a typed error", () => {
    for (const bad of ["", "wifi-drop", "wifi-drop@", "meteor@10s", "loss=1.5", "loss=-1", "power-cut@10h", "wifi-drop@10s+"]) {
      expect(() => parseFault(bad)).toThrow(/invalid-fault/);
      try {
        parseFault(bad);
      } catch (e) {
        expect((e as { code: string }).code).toBe("invalid-fault");
      }
    }
  });

  test("mote sim arguments are parsed and bad ones refused", () => {
    const a = parseSimArgs(["--devices", "3", "--for", "10", "--json", "--fault", "wifi-drop@2s", "--fault=loss=0.2", "--broker=mqtt://127.0.0.1:1884"]);
    expect(a).toMatchObject({ devices: 3, forSeconds: 10, json: true, broker: "mqtt://127.0.0.1:1884" });
    expect(a.faults.map((f) => f.kind)).toEqual(["wifi-drop", "loss"]);
    expect(() => parseSimArgs(["--devices", "0"])).toThrow(/devices/);
    expect(() => parseSimArgs(["--broker", "http://x"])).toThrow(/mqtt:/);
    expect(() => parseSimArgs(["--for"])).toThrow(/needs a value/);
    expect(() => parseSimArgs(["--bogus"])).toThrow(/unknown option/);
  });
});

describe("startSimulation refuses bad options before starting anything", () => {
  test("device count and peer URLs", async () => {
    for (const bad of [{ devices: 0 }, { devices: 501 }, { devices: 1.5 }, { broker: "http://127.0.0.1:1" }, { coap: "coap:/x" }]) {
      await expect(startSimulation({ ...bad, bundle: "" })).rejects.toMatchObject({ code: "invalid-option" });
    }
  });
});

describe("embedded peers", () => {
  test("aedes behind the TCP proxy: a cut resets the client and it comes back; retained state survives a restart", async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.close());
    const proxy = new TcpFaultProxy({ targetHost: "127.0.0.1", targetPort: broker.port });
    await proxy.listen();
    cleanups.push(() => proxy.close());
    const client = mqtt.connect(`mqtt://127.0.0.1:${proxy.port}`, { reconnectPeriod: 100, clientId: "t1" });
    cleanups.push(() => void client.end(true));
    await waitFor<void>((ok) => client.once("connect", () => ok()));
    await client.publishAsync("a/b", "kept", { qos: 1, retain: true });
    proxy.cut(300);
    await waitFor<void>((ok) => client.once("close", () => ok()));
    await waitFor<void>((ok) => client.once("connect", () => ok()));
    expect(proxy.connections).toBeGreaterThanOrEqual(2);
    await broker.restart(200);
    await waitFor<void>((ok) => client.once("connect", () => ok()));
    const got = waitFor<string>((ok) => client.once("message", (_t, p) => ok(p.toString())));
    await client.subscribeAsync("a/b", { qos: 1 });
    expect(await got).toBe("kept");
  });

  test("TCP loss delays bytes but never reorders or loses them", async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.close());
    let n = 0;
    const proxy = new TcpFaultProxy({ targetHost: "127.0.0.1", targetPort: broker.port, random: () => (n++ % 3 === 0 ? 0 : 0.9), retransmitMs: 20 });
    proxy.loss = 0.5;
    await proxy.listen();
    cleanups.push(() => proxy.close());
    const sub = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, { clientId: "sub" });
    const pub = mqtt.connect(`mqtt://127.0.0.1:${proxy.port}`, { clientId: "pub" });
    cleanups.push(() => void sub.end(true), () => void pub.end(true));
    await waitFor<void>((ok) => sub.once("connect", () => ok()));
    await sub.subscribeAsync("seq", { qos: 1 });
    const seen: number[] = [];
    const all = waitFor<void>((ok) => sub.on("message", (_t, p) => (seen.push(Number(p.toString())), seen.length === 30 && ok())), 10_000);
    await waitFor<void>((ok) => pub.once("connect", () => ok()));
    for (let i = 0; i < 30; i++) pub.publish("seq", String(i), { qos: 1 });
    await all;
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  test("CoAP server: /sensor observable, /large served block-wise, unknown paths 4.04, through the UDP proxy", async () => {
    const server = await startCoapServer({ sensorPeriodMs: 50, largeBytes: 3000 });
    cleanups.push(() => server.close());
    const proxy = new UdpFaultProxy({ targetHost: "127.0.0.1", targetPort: server.port });
    await proxy.listen();
    cleanups.push(() => proxy.close());
    const sensor = await coapGet(proxy.port, "/sensor");
    expect(sensor.code).toBe("2.05");
    expect(Number(sensor.payload.toString())).toBeGreaterThan(15);
    const large = await coapGet(proxy.port, "/large");
    expect(new Uint8Array(large.payload)).toEqual(largeResource(3000));
    expect((await coapGet(proxy.port, "/nope")).code).toBe("4.04");
    const values = await new Promise<string[]>((resolve, reject) => {
      const req = coap.request({ hostname: "127.0.0.1", port: proxy.port, pathname: "/sensor", observe: true, agent: new coap.Agent({ type: "udp4" }) });
      const got: string[] = [];
      req.on("response", (res: coap.ObserveReadStream) => {
        res.on("data", (d: Buffer) => {
          got.push(d.toString());
          if (got.length === 3) {
            res.close();
            resolve(got);
          }
        });
      });
      req.on("error", reject);
      req.end();
    });
    expect(values.length).toBe(3);
  });

  test("UDP loss = 1 drops every datagram; 0 lets them through", async () => {
    const server = await startCoapServer();
    cleanups.push(() => server.close());
    const proxy = new UdpFaultProxy({ targetHost: "127.0.0.1", targetPort: server.port });
    await proxy.listen();
    cleanups.push(() => proxy.close());
    proxy.loss = 1;
    const lost = coapGet(proxy.port, "/sensor", { confirmable: false });
    const outcome = await Promise.race([lost.then(() => "answered"), new Promise((r) => setTimeout(() => r("silent"), 300))]);
    expect(outcome).toBe("silent");
    expect(proxy.dropped).toBeGreaterThan(0);
    proxy.loss = 0;
    expect((await coapGet(proxy.port, "/sensor")).code).toBe("2.05");
  });

  test("the update server serves whole files and byte ranges", async () => {
    const updates = await startUpdateServer();
    cleanups.push(() => updates.close());
    updates.put("/fw.bin", new Uint8Array([1, 2, 3, 4, 5]));
    const whole = await fetch(`${updates.url}/fw.bin`);
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3, 4, 5]));
    const part = await fetch(`${updates.url}/fw.bin`, { headers: { range: "bytes=2-" } });
    expect(part.status).toBe(206);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(new Uint8Array([3, 4, 5]));
    expect((await fetch(`${updates.url}/missing`)).status).toBe(404);
  });
});

describe("status text", async () => {
  const { statusLine, statusJson } = await import("../../host-shim/sim/display.js");
  const device = {
    id: "mote-026d6f000000",
    version: "1.0.0",
    uptimeMs: 12_400,
    wifi: { state: "down" as const, reason: "wrong-password" },
    mqtt: { state: "waiting-wifi" as const },
    queueDepth: 3,
    counters: { msgsIn: 1, msgsOut: 9, msgsDropped: 2, telemetrySent: 7, commands: 1, commandErrors: 0, coapNotifications: 0, wifiDrops: 1, mqttConnects: 1 },
    parts: {},
    problems: [],
    reboot: undefined,
    healthy: false,
  };
  const s = { index: 0, name: "mote-sim-0", state: "running" as const, boots: 2, device, xsHeapBytes: 412 * 1024, xsHeapPeakBytes: 420 * 1024, lastError: undefined };

  test("the live line says what is wrong and what is waiting", () => {
    expect(statusLine(s)).toBe(
      "mote-sim-0 ○ mote-026d6f000000 v1.0.0 · wifi down(wrong-password) · mqtt waiting-wifi · in 1 out 9 drop 2 · q 3 · xsnap heap 412K · boot 2 · up 12s",
    );
    expect(statusLine({ ...s, device: undefined, state: "booting" })).toBe("mote-sim-0 booting");
  });

  test("the JSON record carries the same facts", () => {
    expect(statusJson(s)).toMatchObject({ device: "mote-sim-0", id: device.id, healthy: false, boots: 2, queueDepth: 3, xsHeapBytes: 412 * 1024 });
  });
});
