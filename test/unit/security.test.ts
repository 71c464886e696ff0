/**
 * Security of the command channel on Node (docs/security.md): the pure parts
 * (token bucket, signed-message decoder, two-slot trust record with a power
 * cut at every write) and the whole device program on the broker-free
 * harness — the two takeover messages of issue 21 refused, a signed
 * rotation accepted and kept across a reboot, replays / wrong keys / TLS
 * downgrades refused, harmful commands rate-limited, secrets never shown.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main as otaMain } from "../../cli/ota.js";
import { parsePublicKey } from "../../src/ota/keys.js";
import { describe, expect, test } from "vitest";
import { DeviceApp } from "../../src/app/device.js";
import { TokenBucket, PROTECTED_KEYS, isTlsDowngrade, keyId } from "../../src/app/security.js";
import { buildConfig, CONFIG_KEYS } from "../../src/runtime/config.js";
import { parseSignedMessage, signedMessageValid, TrustError, type SignedMessage } from "../../src/ota/signed.js";
import { decodeTrustRecord, encodeTrustRecord, TrustStore, TRUST_DOMAIN, type TrustPrefs, type TrustRecord } from "../../src/ota/trust-store.js";
import { encodeHex } from "../../src/ota/encoding.js";
import { encodeUtf8 } from "../../src/util/utf8.js";
import { rawPublicKey, nodeOtaCrypto } from "../../cli/ota-sign.js";
import { signMessage } from "../../cli/ota-signed.js";
import { FakeLink, FakeWifi, FakeCoap, MapStore } from "./app-harness.js";
import { FakeHost } from "./runtime-fakes.js";

const ID = "mote-240ac4000001";
const T = `mote/${ID}`;

function keyPair() {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { key: privateKey, pub: rawPublicKey(privateKey) };
}
const FLEET = keyPair();
const NEXT = keyPair();
const ATTACKER = keyPair();

function rotation(signer: ReturnType<typeof keyPair>, to: Uint8Array, counter: number, device?: string): string {
  return signMessage({ format: 1, type: "rotate-key", counter, otaKey: encodeHex(to), ...(device ? { device } : {}) }, signer.key);
}
function signedConfig(signer: ReturnType<typeof keyPair>, config: Record<string, string | null>, counter: number, reboot = false): string {
  return signMessage({ format: 1, type: "config", counter, config, ...(reboot ? { reboot: true } : {}) }, signer.key);
}

/** Preferences in memory, with a power cut armed after `n` more writes (the cut write is torn or lost). */
class CutPrefs implements TrustPrefs {
  readonly data = new Map<string, string | number | boolean | Uint8Array>();
  writesLeft = Infinity;
  torn: "lost" | "half" = "lost";
  writes = 0;
  getPreference(domain: string, key: string) {
    return this.data.get(`${domain}/${key}`);
  }
  setPreference(domain: string, key: string, value: string | number | boolean | Uint8Array) {
    if (this.writesLeft <= 0) {
      if (this.torn === "half" && value instanceof Uint8Array) this.data.set(`${domain}/${key}`, value.slice(0, value.length >> 1));
      throw Object.assign(new Error("power cut"), { code: "power-cut" });
    }
    this.writesLeft--;
    this.writes++;
    this.data.set(`${domain}/${key}`, value instanceof Uint8Array ? value.slice() : value);
  }
}

interface Device {
  host: FakeHost;
  app: DeviceApp;
  link: () => FakeLink;
  reboots: string[];
  store: MapStore;
  prefs: CutPrefs;
  otaKeys: Uint8Array[];
  otaStarts: number;
}

/** The device program as program.ts wires it: trust record loaded first, its values over stored and build-time ones. */
function boot(buildTime: Record<string, unknown>, prefs = new CutPrefs(), store = new MapStore()): Device {
  const host = new FakeHost(3);
  const wifi = new FakeWifi();
  const links: FakeLink[] = [];
  const reboots: string[] = [];
  const trust = new TrustStore(prefs);
  trust.load();
  const r = trust.record;
  const trusted = r.otaKey === undefined ? { ...r.config } : { ...r.config, otaKey: r.otaKey };
  const { config } = buildConfig(
    { ssid: "lab", password: "wifi-secret-pw", broker: "mqtt://127.0.0.1:1883", telemetryMs: 1000, otaKey: encodeHex(FLEET.pub), ...buildTime },
    store.record(),
    wifi.info().mac,
    trusted,
  );
  const d: Device = { host, app: undefined as unknown as DeviceApp, link: () => links[links.length - 1], reboots, store, prefs, otaKeys: [], otaStarts: 0 };
  d.app = new DeviceApp({
    host,
    config,
    wifi,
    mqtt: (o, emit) => {
      const l = new FakeLink(o, emit);
      links.push(l);
      return l;
    },
    coap: new FakeCoap(),
    ota: {
      start: (_payload, onEvent) => {
        d.otaStarts++;
        onEvent({ type: "error", detail: "bad-descriptor: test" });
      },
      setPublicKey: (k) => void d.otaKeys.push(k),
    },
    store,
    trust,
    crypto: nodeOtaCrypto,
    system: { reboot: (why) => void reboots.push(why), freeMemory: () => 1000 },
    backoff: { baseMs: 1000, maxMs: 30_000, stableMs: 10_000 },
  });
  d.app.start();
  wifi.up();
  d.link().connect();
  return d;
}

function replies(d: Device, name: string): Record<string, unknown>[] {
  return d.link().json(`${T}/reply/${name}`) as Record<string, unknown>[];
}
function last(d: Device, name: string): Record<string, unknown> {
  const all = replies(d, name);
  return all[all.length - 1];
}

describe("token bucket (pure, monotonic clock)", () => {
  test("starts full, refuses when empty, earns one token per period and never holds more than its capacity", () => {
    const b = new TokenBucket({ capacity: 3, refillMs: 1000 }, 0);
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).toEqual([true, true, true, false]);
    expect(b.waitMs(400)).toBe(600);
    expect(b.take(999)).toBe(false);
    expect(b.take(1000)).toBe(true);
    expect(b.tokens(1_000_000)).toBe(3);
    expect(b.tokens(5_000_000)).toBe(3);
  });
  test("a clock that stands still or goes back earns nothing", () => {
    const b = new TokenBucket({ capacity: 1, refillMs: 10 }, 100);
    expect(b.take(100)).toBe(true);
    expect(b.take(50)).toBe(false);
    expect(b.take(100)).toBe(false);
    expect(b.take(110)).toBe(true);
  });
});

describe("signed messages: decoder", () => {
  test("a rotation from `mote ota rotate` decodes with its counter, device and key", () => {
    const m = parseSignedMessage(encodeUtf8(rotation(FLEET, NEXT.pub, 7, ID))) as SignedMessage;
    expect(m).toMatchObject({ type: "rotate-key", counter: 7, device: ID });
    expect(m.type === "rotate-key" && encodeHex(m.otaKey)).toBe(encodeHex(NEXT.pub));
  });
  test.each([
    ["not JSON", "{"],
    ["an array", "[]"],
    ["deep nesting", '{"config":{"a":{"b":1}}}'],
    ["an unknown member", '{"format":1,"type":"config","counter":1,"x":1}'],
    ["counter 0", JSON.stringify({ format: 1, type: "rotate-key", counter: 0, otaKey: encodeHex(NEXT.pub), signature: "A".repeat(86) + "==" })],
    ["a short signature", JSON.stringify({ format: 1, type: "rotate-key", counter: 1, otaKey: encodeHex(NEXT.pub), signature: "AAAA" })],
    ["a config carrying otaKey", JSON.stringify({ format: 1, type: "config", counter: 1, config: { broker: "x" }, otaKey: encodeHex(NEXT.pub), signature: "A".repeat(86) + "==" })],
    ["a number as a config value", JSON.stringify({ format: 1, type: "config", counter: 1, config: { broker: 5 }, signature: "A".repeat(86) + "==" })],
  ])("refuses %s with bad-message", (_what, text) => {
    const r = parseSignedMessage(encodeUtf8(text));
    expect(r).toBeInstanceOf(TrustError);
    expect((r as TrustError).code).toBe("bad-message");
  });
  test("every prefix and every one-byte change of a valid message gives a message or a typed error, never a throw", () => {
    const bytes = encodeUtf8(signedConfig(FLEET, { broker: "mqtts://h:8883" }, 3));
    for (let n = 0; n <= bytes.length; n++) {
      const r = parseSignedMessage(bytes.subarray(0, n));
      if (n < bytes.length) expect(r).toBeInstanceOf(TrustError);
    }
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes.slice();
      b[i] ^= 0x41;
      const r = parseSignedMessage(b);
      expect(r instanceof TrustError || typeof (r as SignedMessage).counter === "number").toBe(true);
    }
  });
});

describe("trust record: two slots, a power cut at any write", () => {
  const recordOf = (counter: number, key?: Uint8Array): TrustRecord => ({ counter, otaKey: key, config: { broker: `mqtts://b${counter}:8883` } });

  test("encodes and decodes; a torn or bit-flipped record is refused by its CRC", () => {
    const bytes = encodeTrustRecord(recordOf(5, NEXT.pub));
    expect(decodeTrustRecord(bytes)).toEqual({ counter: 5, otaKey: NEXT.pub, config: { broker: "mqtts://b5:8883" } });
    for (let n = 0; n < bytes.length; n++) expect(decodeTrustRecord(bytes.subarray(0, n))).toBeUndefined();
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes.slice();
      b[i] ^= 1;
      expect(decodeTrustRecord(b)).toBeUndefined();
    }
  });

  test("ten rotations, cut at every possible write (lost and half-written): the store always comes back with the old or the new record, never none", () => {
    const keys = [FLEET.pub, NEXT.pub, ATTACKER.pub];
    for (const torn of ["lost", "half"] as const) {
      for (let cutAt = 0; cutAt < 10; cutAt++) {
        const prefs = new CutPrefs();
        prefs.torn = torn;
        const store = new TrustStore(prefs);
        store.load();
        for (let i = 1; i <= 10; i++) {
          if (i === cutAt + 1) prefs.writesLeft = 0;
          const before = store.record;
          let saved = true;
          try {
            store.save(recordOf(i, keys[i % 3]));
          } catch (e) {
            expect((e as TrustError).code).toBe("store");
            saved = false;
          }
          // power back, a fresh boot reads the store
          prefs.writesLeft = Infinity;
          const reread = new TrustStore(prefs);
          const loaded = reread.load().record;
          const expected = saved ? recordOf(i, keys[i % 3]) : before;
          expect(loaded.counter).toBe(expected.counter);
          expect(loaded.otaKey === undefined ? undefined : encodeHex(loaded.otaKey)).toBe(
            expected.otaKey === undefined ? undefined : encodeHex(expected.otaKey),
          );
          if (!saved) break;
        }
      }
    }
  });

  test("a store whose slots are unreadable gives the empty record and a problem, never a throw", () => {
    const store = new TrustStore({
      getPreference: () => {
        throw new Error("nvs broken");
      },
      setPreference: () => undefined,
    });
    const loaded = store.load();
    expect(loaded.record.counter).toBe(0);
    expect(loaded.problems.length).toBe(2);
  });
});

describe("the device program refuses a takeover over cmd/config (issue 21)", () => {
  test("otaKey over cmd/config is refused with trust-anchor on the reply topic and the error topic; nothing is saved", () => {
    const d = boot({});
    d.link().deliver(`${T}/cmd/config`, JSON.stringify({ otaKey: encodeHex(ATTACKER.pub) }));
    expect(last(d, "config")).toMatchObject({ ok: false, code: "trust-anchor" });
    expect(d.link().json(`${T}/error`)).toEqual([expect.objectContaining({ cmd: "config", code: "trust-anchor" })]);
    expect(d.store.values.size).toBe(0);
    expect(d.prefs.writes).toBe(0);
    expect(d.app.status().security).toMatchObject({ otaKey: keyId(FLEET.pub), counter: 0, refused: 1, lastRefusal: { cmd: "config", code: "trust-anchor" } });
  });

  test('{"broker":"mqtt://127.0.0.2:1883","reboot":true} is refused with signature-required and does not reboot', () => {
    const d = boot({});
    d.link().deliver(`${T}/cmd/config`, JSON.stringify({ broker: "mqtt://127.0.0.2:1883", reboot: true }));
    expect(last(d, "config")).toMatchObject({ ok: false, code: "signature-required" });
    d.host.advance(5000);
    expect(d.reboots).toEqual([]);
    expect(d.store.values.size).toBe(0);
    expect(d.app.status().healthy).toBe(true);
  });

  test("every protected key is refused unsigned; harmless keys still work as before", () => {
    const d = boot({});
    for (const key of PROTECTED_KEYS) {
      d.link().deliver(`${T}/cmd/config`, JSON.stringify({ [key]: key === "broker" ? "mqtt://h" : "x" }));
      expect(last(d, "config")).toMatchObject({ ok: false, code: "signature-required" });
    }
    d.link().deliver(`${T}/cmd/config`, JSON.stringify({ telemetryMs: 500, coapObserve: ["coap://h/s"] }));
    expect(last(d, "config")).toMatchObject({ ok: true, saved: ["telemetryMs", "coapObserve"] });
    expect(Object.keys(CONFIG_KEYS).filter((k) => !PROTECTED_KEYS.includes(k as never))).toEqual(["telemetryMs", "keepAliveS", "coapObserve", "otaKey", "mqttCa"]);
    d.link().deliver(`${T}/cmd/config`, JSON.stringify({ mqttCa: "-----BEGIN CERTIFICATE-----" }));
    expect(last(d, "config")).toMatchObject({ ok: false, code: "trust-anchor" });
  });

  test("a TLS downgrade is refused with tls-downgrade, unsigned and signed", () => {
    const d = boot({ broker: "mqtts://127.0.0.1:8883" });
    d.link().deliver(`${T}/cmd/config`, JSON.stringify({ broker: "mqtt://127.0.0.1:1883" }));
    expect(last(d, "config")).toMatchObject({ ok: false, code: "tls-downgrade" });
    d.link().deliver(`${T}/cmd/signed`, signedConfig(FLEET, { broker: "mqtt://127.0.0.1:1883" }, 1, true));
    expect(last(d, "signed")).toMatchObject({ ok: false, code: "tls-downgrade" });
    d.link().deliver(`${T}/cmd/signed`, signedConfig(FLEET, { broker: null }, 2));
    expect(last(d, "signed")).toMatchObject({ ok: false });
    d.host.advance(5000);
    expect(d.reboots).toEqual([]);
    expect(d.prefs.writes).toBe(0);
    expect(isTlsDowngrade("mqtts://a", "mqtts://b")).toBe(false);
    expect(isTlsDowngrade("mqtt://a", "mqtt://b")).toBe(false);
  });
});

describe("the device program: signed rotation and signed configuration", () => {
  test("a rotation signed by the current key is accepted, handed to the OTA agent, and survives a reboot", () => {
    const d = boot({});
    d.link().deliver(`${T}/cmd/signed`, rotation(FLEET, NEXT.pub, 1, ID));
    expect(last(d, "signed")).toEqual({ ok: true, type: "rotate-key", counter: 1, otaKey: keyId(NEXT.pub) });
    expect(d.otaKeys.map(encodeHex)).toEqual([encodeHex(NEXT.pub)]);
    expect(d.app.status().security).toMatchObject({ otaKey: keyId(NEXT.pub), counter: 1 });
    // reboot: a new program from the same preferences
    const again = boot({}, d.prefs, d.store);
    expect(again.app.status().security).toMatchObject({ otaKey: keyId(NEXT.pub), counter: 1 });
    // the old key signs nothing any more; the new one does
    again.link().deliver(`${T}/cmd/signed`, rotation(FLEET, ATTACKER.pub, 2));
    expect(last(again, "signed")).toMatchObject({ ok: false, code: "bad-signature" });
    again.link().deliver(`${T}/cmd/signed`, rotation(NEXT, FLEET.pub, 3));
    expect(last(again, "signed")).toMatchObject({ ok: true, counter: 3 });
  });

  test("a power cut during the save of a rotation: the next boot has the old key and counter, and the same rotation then succeeds", () => {
    for (const torn of ["lost", "half"] as const) {
      const d = boot({});
      d.prefs.torn = torn;
      d.prefs.writesLeft = 0;
      d.link().deliver(`${T}/cmd/signed`, rotation(FLEET, NEXT.pub, 1));
      expect(last(d, "signed")).toMatchObject({ ok: false, code: "store" });
      expect(d.otaKeys).toEqual([]);
      d.prefs.writesLeft = Infinity;
      const again = boot({}, d.prefs, d.store);
      expect(again.app.status().security).toMatchObject({ otaKey: keyId(FLEET.pub), counter: 0 });
      again.link().deliver(`${T}/cmd/signed`, rotation(FLEET, NEXT.pub, 1));
      expect(last(again, "signed")).toMatchObject({ ok: true, counter: 1 });
      expect(boot({}, d.prefs, d.store).app.status().security).toMatchObject({ otaKey: keyId(NEXT.pub), counter: 1 });
    }
  });

  test("a replayed rotation, an older counter, a wrong key and another device's message are refused with their codes", () => {
    const d = boot({});
    const first = rotation(FLEET, NEXT.pub, 5);
    d.link().deliver(`${T}/cmd/signed`, first);
    expect(last(d, "signed")).toMatchObject({ ok: true, counter: 5 });
    d.link().deliver(`${T}/cmd/signed`, first);
    expect(last(d, "signed")).toMatchObject({ ok: false, code: "replay" });
    d.link().deliver(`${T}/cmd/signed`, rotation(NEXT, ATTACKER.pub, 4));
    expect(last(d, "signed")).toMatchObject({ ok: false, code: "replay" });
    d.link().deliver(`${T}/cmd/signed`, rotation(ATTACKER, ATTACKER.pub, 6));
    expect(last(d, "signed")).toMatchObject({ ok: false, code: "bad-signature" });
    d.link().deliver(`${T}/cmd/signed`, rotation(NEXT, ATTACKER.pub, 7, "mote-other"));
    expect(last(d, "signed")).toMatchObject({ ok: false, code: "wrong-device" });
    expect(d.app.status().security).toMatchObject({ otaKey: keyId(NEXT.pub), counter: 5, refused: 4 });
  });

  test("a signed config changes a protected key atomically with its counter, reboots when asked, and the next boot uses it", () => {
    const d = boot({});
    d.link().deliver(`${T}/cmd/signed`, signedConfig(FLEET, { broker: "mqtts://127.0.0.9:8883", mqttUser: "u1", mqttPass: "mqtt-secret-pw" }, 1, true));
    expect(last(d, "signed")).toMatchObject({ ok: true, type: "config", counter: 1, saved: ["broker", "mqttPass", "mqttUser"] });
    d.host.advance(5000);
    expect(d.reboots).toEqual(["signed config"]);
    const again = boot({}, d.prefs, d.store);
    const o = again.link().options;
    expect([o.host, o.port, o.tls, o.username, o.password]).toEqual(["127.0.0.9", 8883, true, "u1", "mqtt-secret-pw"]);
    // not protected: send it plainly
    again.link().deliver(`${T}/cmd/signed`, signedConfig(FLEET, { telemetryMs: "500" }, 2));
    expect(last(again, "signed")).toMatchObject({ ok: false, code: "not-protected" });
  });

  test("without an OTA key nothing signed is accepted (no-trust-anchor), and the device keeps running", () => {
    const d = boot({ otaKey: undefined });
    d.link().deliver(`${T}/cmd/signed`, rotation(FLEET, NEXT.pub, 1));
    expect(last(d, "signed")).toMatchObject({ ok: false, code: "no-trust-anchor" });
    d.link().deliver(`${T}/cmd/ping`, '{"id":1}');
    expect(d.link().json(`${T}/pong`)).toEqual([expect.objectContaining({ id: 1 })]);
  });
});

describe("the device program: harmful commands are rate-limited, the rest is not", () => {
  test("ota, signed and config-with-reboot draw on one bucket; refusals say rate-limited; ping and telemetry carry on", () => {
    const d = boot({});
    for (let i = 0; i < 5; i++) d.link().deliver(`${T}/cmd/ota`, '{"url":"http://127.0.0.1/x.json"}');
    expect(d.otaStarts).toBe(5);
    d.link().deliver(`${T}/cmd/ota`, '{"url":"http://127.0.0.1/x.json"}');
    expect(d.otaStarts).toBe(5);
    expect(last(d, "ota")).toMatchObject({ ok: false, code: "rate-limited" });
    d.link().deliver(`${T}/cmd/signed`, rotation(FLEET, NEXT.pub, 1));
    expect(last(d, "signed")).toMatchObject({ ok: false, code: "rate-limited" });
    d.link().deliver(`${T}/cmd/reboot`, "");
    expect(last(d, "reboot")).toMatchObject({ ok: false, code: "rate-limited" });
    d.link().deliver(`${T}/cmd/ping`, '{"id":2}');
    expect(d.link().json(`${T}/pong`)).toEqual([expect.objectContaining({ id: 2 })]);
    const before = d.link().json(`${T}/telemetry`).length;
    d.host.advance(10_000); // ten telemetry periods, and one token back
    expect(d.link().json(`${T}/telemetry`).length).toBe(before + 10);
    d.link().deliver(`${T}/cmd/signed`, rotation(FLEET, NEXT.pub, 1));
    expect(last(d, "signed")).toMatchObject({ ok: true, counter: 1 });
    expect(d.app.status().security?.refused).toBe(3);
  });
});

describe("secrets never leave the device", () => {
  test("with every secret set, nothing the program logs, publishes or reports contains one", () => {
    const secrets = ["wifi-secret-pw", "mqtt-user-secret", "mqtt-pass-secret", encodeHex(FLEET.pub), encodeHex(NEXT.pub)];
    const d = boot({ mqttUser: "mqtt-user-secret", mqttPass: "mqtt-pass-secret" });
    d.link().deliver(`${T}/cmd/signed`, rotation(FLEET, NEXT.pub, 1));
    d.link().deliver(`${T}/cmd/signed`, signedConfig(NEXT, { mqttPass: "mqtt-pass-secret" }, 2));
    d.link().deliver(`${T}/cmd/config`, JSON.stringify({ mqttPass: "mqtt-pass-secret", password: "wifi-secret-pw" }));
    d.link().deliver(`${T}/cmd/ping`, "{}");
    d.host.advance(3000);
    const everything = [
      ...d.host.logs,
      ...d.link().sent.map((m) => `${m.topic} ${m.text}`),
      JSON.stringify(d.app.status()),
    ].join("\n");
    expect(everything).toContain(keyId(NEXT.pub)!);
    for (const s of secrets) expect(everything.includes(s), s).toBe(false);
  });
});

test("the trust domain fits NVS names", () => {
  expect(TRUST_DOMAIN.length).toBeLessThanOrEqual(15);
});

describe("mote ota rotate / sign-config", () => {
  const dir = mkdtempSync(join(tmpdir(), "mote-ota-signed-"));
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) } };
  };
  const keys = async (name: string) => {
    expect(await otaMain(["keygen", "--force", "--out", join(dir, name)], io().io)).toBe(0);
    return { key: join(dir, `${name}.key`), pub: join(dir, `${name}.pub`) };
  };

  test("rotate writes a rotation the device's decoder accepts, signed by the old key, naming the new one", async () => {
    const old = await keys("old");
    const next = await keys("next");
    const c = io();
    expect(await otaMain(["rotate", "--key", old.key, "--new-pub", next.pub, "--counter", "7", "--device", ID], c.io)).toBe(0);
    const m = parseSignedMessage(encodeUtf8(c.out[0])) as SignedMessage;
    expect(m).toMatchObject({ type: "rotate-key", counter: 7, device: ID });
    const oldPub = parsePublicKey(readFileSync(old.pub, "utf8"));
    const nextPub = parsePublicKey(readFileSync(next.pub, "utf8"));
    expect(m.type === "rotate-key" && encodeHex(m.otaKey)).toBe(encodeHex(nextPub));
    expect(signedMessageValid(m, oldPub, nodeOtaCrypto)).toBe(true);
    expect(signedMessageValid(m, nextPub, nodeOtaCrypto)).toBe(false);
    // a device built with the old key takes it
    const d = boot({ otaKey: encodeHex(oldPub) });
    d.link().deliver(`${T}/cmd/signed`, c.out[0]);
    expect(last(d, "signed")).toMatchObject({ ok: true, counter: 7, otaKey: keyId(nextPub) });
  });

  test("sign-config writes --set and --unset values and --reboot; --out writes the file", async () => {
    const k = await keys("cfg");
    const out = join(dir, "move.json");
    const c = io();
    expect(await otaMain(["sign-config", "--key", k.key, "--counter", "3", "--set", "broker=mqtts://h:8883", "--unset", "mqttUser", "--reboot", "--out", out], c.io)).toBe(0);
    expect(c.out[0]).toContain("cmd/signed");
    const m = parseSignedMessage(new Uint8Array(readFileSync(out))) as SignedMessage;
    expect(m).toMatchObject({ type: "config", counter: 3, reboot: true, config: { broker: "mqtts://h:8883", mqttUser: null } });
  });

  test.each([
    [["rotate", "--counter", "0"], 2, "counter"],
    [["rotate", "--counter", "1"], 2, "--key is required"],
    [["sign-config", "--counter", "1", "--key", "KEY"], 2, "--set"],
    [["sign-config", "--counter", "1", "--key", "KEY", "--set", "noequals"], 2, "KEY=VALUE"],
    [["rotate", "--counter", "1", "--key", "PUB", "--new-pub", "PUB"], 1, "bad-key"],
  ])("%j exits %i naming %s", async (args, status, words) => {
    const k = await keys("err");
    const c = io();
    const argv = (args as string[]).map((a) => (a === "KEY" ? k.key : a === "PUB" ? k.pub : a));
    expect(await otaMain(argv, c.io)).toBe(status);
    expect(c.err.join("\n")).toContain(words);
    expect(c.err.length).toBe(1);
  });
});
