import { describe, expect, test } from "vitest";
import { startRig, MapStore } from "./app-harness.js";
import { encodeUtf8 } from "../../src/util/utf8.js";

const ID = "mote-240ac4000001";
const T = `mote/${ID}`;

function online(rig = startRig()) {
  rig.wifi.up();
  rig.link().connect();
  return rig;
}

describe("device program: boot and connect", () => {
  test("joins WiFi first and only then opens the broker link, with a retained offline will", () => {
    const rig = startRig();
    expect(rig.wifi.attempts).toEqual([{ ssid: "lab", password: "secret" }]);
    expect(rig.links.length).toBe(0);
    expect(rig.app.status().mqtt.state).toBe("waiting-wifi");
    rig.wifi.up();
    expect(rig.links.length).toBe(1);
    const o = rig.link().options;
    expect(o).toMatchObject({ host: "127.0.0.1", port: 1883, tls: false, clientId: ID, cleanSession: false, keepAliveS: 60 });
    expect(o.will).toMatchObject({ topic: `${T}/status`, qos: 1, retain: true });
    expect(new TextDecoder().decode(o.will.payload)).toBe("offline");
  });

  test("on connect it subscribes to its command topics and the fleet hello, publishes a retained online and announces itself", () => {
    const rig = online();
    expect(rig.link().subscriptions).toEqual([`${T}/cmd/#`, "mote/fleet/hello"]);
    expect(rig.link().sent[0]).toEqual({ topic: `${T}/status`, text: "online", qos: 1, retain: true });
    expect(rig.link().sent[1]).toMatchObject({ topic: `${T}/announce`, qos: 1, retain: false });
    expect(JSON.parse(rig.link().sent[1].text)).toMatchObject({ id: ID });
    const s = rig.app.status();
    expect(s).toMatchObject({ id: ID, healthy: true, wifi: { state: "up", ip: "10.0.0.7" }, mqtt: { state: "connected" } });
  });

  test("a device without a broker configured is healthy on WiFi alone", () => {
    const rig = startRig({ broker: undefined });
    rig.wifi.up();
    expect(rig.links.length).toBe(0);
    expect(rig.app.status()).toMatchObject({ healthy: true, mqtt: { state: "disabled" } });
  });
});

describe("device program: telemetry", () => {
  test("publishes one QoS 1 record per interval with uptime, heap, RSSI, counters and the sensor", () => {
    const rig = online();
    rig.host.advance(3000);
    const records = rig.link().json(`${T}/telemetry`) as Record<string, any>[];
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(records.map((r) => r.uptimeMs)).toEqual([1000, 2000, 3000]);
    expect(records[0]).toMatchObject({ freeHeap: 123_456, rssi: -55, sensor: { temperature: 20 } });
    expect(records[2].counters.msgsOut).toBe(4); // online + announce + two telemetry records before it
    expect(rig.link().sent.filter((m) => m.topic === `${T}/telemetry`).every((m) => m.qos === 1)).toBe(true);
  });

  test("with the platform's signal-only read, telemetry takes the RSSI from it and never calls info() (its strings were garbage every period)", () => {
    const rig = online();
    let infos = 0;
    const info = rig.wifi.info;
    rig.wifi.info = () => (infos++, info());
    rig.wifi.signal = () => -61;
    rig.host.advance(2000);
    const records = rig.link().json(`${T}/telemetry`) as Record<string, any>[];
    expect(records.map((r) => r.rssi)).toEqual([-61, -61]);
    expect(infos).toBe(0);
    rig.wifi.signal = () => {
      throw new Error("radio off");
    };
    rig.host.advance(1000);
    expect((rig.link().json(`${T}/telemetry`) as Record<string, any>[])[2].rssi).toBeUndefined();
  });

  test("a sensor that throws gives an error reading, not a dead telemetry loop", () => {
    const rig = startRig({}, { extra: { sensor: { name: "t", read: () => { throw new Error("i2c nack"); } } } });
    online(rig);
    rig.host.advance(2000);
    const records = rig.link().json(`${T}/telemetry`) as Record<string, any>[];
    expect(records.length).toBe(2);
    expect(records[0].sensor.t.error).toContain("i2c nack");
  });

  test("records taken while the broker is unreachable are queued and all arrive in order", () => {
    const rig = online();
    rig.host.advance(2000);
    rig.link().drop("broker restart");
    expect(rig.app.status().mqtt).toMatchObject({ state: "offline", reason: "broker restart" });
    rig.host.advance(5000);
    expect(rig.app.status().queueDepth).toBe(5);
    rig.link().connect(true);
    rig.host.advance(1000);
    const seqs = (rig.link().json(`${T}/telemetry`) as { seq: number }[]).map((r) => r.seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(rig.link().subscriptions.length).toBe(4); // subscribed again on the reconnect (commands, fleet hello)
    expect(rig.app.status().counters.mqttConnects).toBe(2);
  });

  test("a full offline queue drops and counts, it never grows", () => {
    const rig = startRig({}, { linkLimit: 3 });
    online(rig);
    rig.link().drop();
    rig.host.advance(10_000);
    expect(rig.app.status().queueDepth).toBe(3);
    expect(rig.app.status().counters.msgsDropped).toBe(7);
  });

  test("records carry the boot number; a record the link refuses leaves a gap in seq", () => {
    const rig = startRig({}, { linkLimit: 2, extra: { boot: 7 } });
    online(rig);
    rig.host.advance(1000); // seq 1 sent
    rig.link().drop();
    rig.host.advance(4000); // seq 2, 3 queued; 4, 5 refused
    rig.link().connect(true);
    rig.host.advance(1000); // seq 6
    const records = rig.link().json(`${T}/telemetry`) as { boot: number; seq: number }[];
    expect(records.map((r) => r.boot)).toEqual([7, 7, 7, 7]);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 6]);
  });
});

describe("device program: WiFi faults", () => {
  test("a dropped link reports its reason and reconnects after a backoff; the MQTT link is kept", () => {
    const rig = online();
    rig.wifi.down("lost-link");
    const s = rig.app.status();
    expect(s.wifi).toMatchObject({ state: "down", reason: "lost-link" });
    expect(s.healthy).toBe(false);
    expect(s.counters.wifiDrops).toBe(1);
    expect(rig.wifi.closed).toBe(1);
    rig.host.advance(1000); // first retry is within [0, 1000)
    expect(rig.wifi.attempts.length).toBe(2);
    rig.wifi.up();
    expect(rig.links.length).toBe(1);
    expect(rig.app.status().wifi.state).toBe("up");
    // the kept link is told at once, so it does not wait out a backoff grown while the network was gone
    expect(rig.link().networkUps).toBe(1);
  });

  test("a wrong password shows a clear reason and retries slower and slower, never in a tight loop", () => {
    const rig = startRig({ password: "wrong" });
    const gaps: number[] = [];
    let last = 0;
    for (let i = 0; i < 12; i++) {
      rig.wifi.down("wrong-password");
      expect(rig.app.status().wifi).toMatchObject({ state: "down", reason: "wrong-password" });
      const before = rig.wifi.attempts.length;
      let waited = 0;
      while (rig.wifi.attempts.length === before && waited < 120_000) {
        rig.host.advance(100);
        waited += 100;
      }
      gaps.push(rig.host.time - last);
      last = rig.host.time;
    }
    const status = rig.app.status();
    expect(status.parts.wifi).toMatchObject({ lastError: "wrong-password", restarts: 12 });
    expect(status.healthy).toBe(false);
    expect(rig.links.length).toBe(0);
    // 12 failures took minutes, not a 12-iteration spin: the ceiling doubles up to 30 s.
    expect(gaps.reduce((a, b) => a + b, 0)).toBeGreaterThan(60_000);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(30_100);
  });

  test("no SSID configured: the WiFi part reports no-ssid and waits, the others still run", () => {
    const rig = startRig({ ssid: undefined });
    rig.host.advance(5000);
    expect(rig.app.status().wifi.state).toBe("no-ssid");
    expect(rig.app.status().parts.telemetry.state).toBe("running");
    expect(rig.wifi.attempts.length).toBe(0);
  });
});

describe("device program: commands", () => {
  test("ping answers on pong, or on the response topic from the payload or from MQTT 5", () => {
    const rig = online();
    rig.link().deliver(`${T}/cmd/ping`, "");
    rig.link().deliver(`${T}/cmd/ping`, '{"id":7,"responseTopic":"app/replies/1"}');
    rig.link().deliver(`${T}/cmd/ping`, '{"id":8}', "app/replies/v5");
    expect(rig.link().json(`${T}/pong`)).toEqual([{ pong: true, uptimeMs: 0 }]);
    expect(rig.link().json("app/replies/1")).toEqual([{ pong: true, id: 7, uptimeMs: 0 }]);
    expect(rig.link().json("app/replies/v5")).toEqual([{ pong: true, id: 8, uptimeMs: 0 }]);
    expect(rig.app.status().counters).toMatchObject({ msgsIn: 3, commands: 3 });
  });

  test("ping carries the XS heap where the host reports it; gc:true collects first", () => {
    const asked: (boolean | undefined)[] = [];
    const rig = online(
      startRig({}, {
        extra: {
          system: {
            reboot: () => undefined,
            freeMemory: () => 1,
            xsHeap: (collect) => (asked.push(collect), { slots: collect ? 100 : 900, chunks: 50, stack: 10 }),
          },
        },
      }),
    );
    rig.link().deliver(`${T}/cmd/ping`, '{"id":1}');
    rig.link().deliver(`${T}/cmd/ping`, '{"id":2,"gc":true}');
    expect(asked).toEqual([false, true]);
    expect(rig.link().json(`${T}/pong`)).toEqual([
      { pong: true, id: 1, uptimeMs: 0, xs: { slots: 900, chunks: 50, stack: 10 } },
      { pong: true, id: 2, uptimeMs: 0, xs: { slots: 100, chunks: 50, stack: 10 } },
    ]);
  });

  test("bad commands are answered on the error topic with a code; the device keeps going", () => {
    const rig = online();
    const cases: [string, string | Uint8Array, string][] = [
      ["dance", "", "unknown-command"],
      ["ping", "{not json", "bad-json"],
      ["ping", "[1,2]", "bad-payload"],
      ["ping", new Uint8Array([0xff, 0xfe]), "bad-json"],
      ["ping", '{"responseTopic":"a/+/b"}', "bad-payload"],
      ["ping", '{"gc":1}', "bad-payload"],
      ["ping", "x".repeat(5000), "payload-too-large"],
      ["config", '{"telemetryMs":"fast"}', "invalid-value"],
      ["config", '{"colour":"red"}', "unknown-key"],
      ["config", '{"reboot":"yes"}', "bad-payload"],
      ["coap", '{"uri":"http://x/"}', "bad-payload"],
      ["coap", '{"uri":"coap://h/x","observe":1}', "bad-payload"],
      ["ota", "{}", "ota-unavailable"],
    ];
    for (const [cmd, payload] of cases) rig.link().deliver(`${T}/cmd/${cmd}`, payload);
    const errors = rig.link().json(`${T}/error`) as { cmd: string; code: string }[];
    expect(errors.map((e) => e.code)).toEqual(cases.map((c) => c[2]));
    expect(rig.app.status().counters.commandErrors).toBe(cases.length);
    expect(rig.store.values.size).toBe(0);
    rig.host.advance(1000);
    expect(rig.link().json(`${T}/telemetry`).length).toBe(1);
    expect(rig.app.status().healthy).toBe(true);
  });

  test("config persists values, applies the telemetry period live, and the next boot uses them", () => {
    const rig = online();
    rig.link().deliver(`${T}/cmd/config`, '{"telemetryMs":250,"keepAliveS":30,"coapObserve":["coap://h/s"]}');
    expect(rig.link().json(`${T}/reply/config`)).toEqual([
      { ok: true, saved: ["telemetryMs", "keepAliveS", "coapObserve"], applied: ["telemetryMs"], pendingReboot: ["keepAliveS", "coapObserve"] },
    ]);
    expect(rig.store.record()).toEqual({ telemetryMs: 250, keepAliveS: 30, coapObserve: "coap://h/s" });
    rig.host.advance(1000);
    expect(rig.link().json(`${T}/telemetry`).length).toBe(4);
    // "reboot": a new program from the same preferences
    const next = startRig({}, { store: rig.store });
    online(next);
    expect(next.link().options.keepAliveS).toBe(30);
    expect(next.coap.observers.has("coap://h/s")).toBe(true);
    next.host.advance(500);
    expect(next.link().json(`${T}/telemetry`).length).toBe(2);
  });

  test("config with null deletes the stored value; with reboot:true it reboots after saving", () => {
    const store = new MapStore();
    store.set("telemetryMs", 500);
    const rig = online(startRig({}, { store }));
    rig.link().deliver(`${T}/cmd/config`, '{"telemetryMs":null,"reboot":true}');
    expect(store.values.has("telemetryMs")).toBe(false);
    rig.host.advance(100);
    expect(rig.reboots).toEqual(["config"]);
  });

  test("reboot publishes a retained offline, then stops everything and reboots", () => {
    const rig = online();
    rig.link().deliver(`${T}/cmd/reboot`, "");
    expect(rig.app.status().reboot).toBeUndefined(); // still flushing
    expect(rig.app.status().healthy).toBe(false);
    expect(rig.link().sent.slice(-2)).toEqual([
      { topic: `${T}/reply/reboot`, text: '{"rebooting":true}', qos: 1, retain: false },
      { topic: `${T}/status`, text: "offline", qos: 1, retain: true },
    ]);
    rig.host.advance(100);
    expect(rig.reboots).toEqual(["command"]);
    expect(rig.app.status().reboot).toBe("command");
    expect(rig.link().ended).toBe(true);
    expect(rig.host.pending).toBe(0);
  });

  test("coap get publishes the result; observe forwards every notification", () => {
    const rig = online();
    rig.link().deliver(`${T}/cmd/coap`, '{"uri":"coap://127.0.0.1/large"}');
    expect(rig.link().json(`${T}/coap/large`)).toEqual([
      { uri: "coap://127.0.0.1/large", code: "2.05", payload: "value of coap://127.0.0.1/large" },
    ]);
    rig.link().deliver(`${T}/cmd/coap`, '{"uri":"coap://127.0.0.1/sensor","observe":true,"responseTopic":"x/y"}');
    rig.coap.notify("coap://127.0.0.1/sensor", "21.5", 3);
    rig.coap.notify("coap://127.0.0.1/sensor", "21.6", 4);
    expect((rig.link().json("x/y") as { payload: string }[]).map((r) => r.payload)).toEqual(["21.5", "21.6"]);
  });

  test("ota hands the payload to the agent and reboots when it says so", () => {
    const given: string[] = [];
    const rig = startRig({}, {
      extra: {
        ota: {
          start: (payload, onEvent) => {
            given.push(new TextDecoder().decode(payload));
            onEvent({ type: "progress", detail: "50%" });
            onEvent({ type: "done", detail: "1.2.0", reboot: true });
          },
        },
      },
    });
    online(rig);
    rig.link().deliver(`${T}/cmd/ota`, encodeUtf8('{"url":"http://127.0.0.1/fw"}'));
    expect(given).toEqual(['{"url":"http://127.0.0.1/fw"}']);
    expect(rig.link().json(`${T}/reply/ota`).length).toBe(2);
    rig.host.advance(100);
    expect(rig.reboots).toEqual(["ota"]);
  });
});

describe("device program: CoAP observe parts", () => {
  test("configured URIs are observed and forwarded; a failing one is restarted without touching MQTT", () => {
    const rig = online(startRig({ coapObserve: ["coap://127.0.0.1/sensor", "coap://127.0.0.1/down"] }));
    rig.coap.notify("coap://127.0.0.1/sensor", "20.1");
    rig.coap.notify("coap://127.0.0.1/sensor", "20.2");
    expect(rig.link().sent.filter((m) => m.topic === `${T}/coap/sensor`).map((m) => m.text)).toEqual(["20.1", "20.2"]);
    expect(rig.app.status().counters.coapNotifications).toBe(2);
    rig.coap.observers.get("coap://127.0.0.1/down")!({ error: "timeout" });
    expect(rig.coap.cancelled).toEqual(["coap://127.0.0.1/down"]);
    expect(rig.app.status().parts["coap:coap://127.0.0.1/down"].state).toBe("waiting");
    expect(rig.app.status().mqtt.state).toBe("connected");
    rig.host.advance(1000);
    expect(rig.app.status().parts["coap:coap://127.0.0.1/down"].state).toBe("starting");
  });
});

describe("payload text", () => {
  test("is decoded in slices that never split a multi-byte character", async () => {
    const { decodeText } = await import("../../src/app/text.js");
    const text = "é€😀a".repeat(300) + "x".repeat(5000);
    expect(decodeText(encodeUtf8(text), 7)).toBe(text);
    expect(decodeText(encodeUtf8(text))).toBe(text);
    expect(decodeText(new Uint8Array([0x61, 0xff, 0x62]))).toBeUndefined();
    expect(decodeText(new Uint8Array([0xe2, 0x82]))).toBeUndefined(); // truncated
    expect(decodeText(new Uint8Array(0))).toBe("");
  });
});

describe("device program: WiFi joins", () => {
  test("leaving the previous network while joining is not a failure; a join that never ends times out", () => {
    const rig = startRig();
    rig.wifi.down("closed" as never);
    expect(rig.app.status().parts.wifi.restarts).toBe(0);
    rig.host.advance(30_000);
    expect(rig.app.status().parts.wifi).toMatchObject({ lastError: "timeout", restarts: 1 });
    rig.host.advance(1000);
    rig.wifi.up();
    expect(rig.app.status().wifi.state).toBe("up");
    rig.host.advance(60_000);
    expect(rig.app.status().parts.wifi.restarts).toBe(1); // no timeout once up
  });
});

describe("command decoder", () => {
  test("random bytes on any command topic give a command or a typed CommandError, never a throw", async () => {
    const { parseCommand, topicsFor, CommandError } = await import("../../src/app/commands.js");
    const { seededRandom } = await import("../../src/runtime/backoff.js");
    const topics = topicsFor("mote", ID);
    const rnd = seededRandom(99);
    const names = ["ping", "reboot", "config", "coap", "ota", "x", "", "ping/extra"];
    const pieces = ['{"', '"uri":', '"coap://h/x"', "}", "[", "null", '"responseTopic":"a/#"', ",", "\u00ff", "1e999"];
    for (let i = 0; i < 3000; i++) {
      const text = Array.from({ length: Math.floor(rnd() * 8) }, () => pieces[Math.floor(rnd() * pieces.length)]).join("");
      const bytes = rnd() < 0.2 ? Uint8Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)) : encodeUtf8(text);
      const name = names[Math.floor(rnd() * names.length)];
      const r = parseCommand(topics, `${T}/cmd/${name}`, bytes);
      if (r instanceof CommandError) expect(typeof r.code).toBe("string");
      else expect(["ping", "reboot", "config", "coap", "ota"]).toContain(r.kind);
    }
    expect(parseCommand(topics, "other/topic", new Uint8Array(0))).toBeInstanceOf(CommandError);
  });
});
