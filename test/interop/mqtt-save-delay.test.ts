/**
 * The client's `saveDelayMs` (src/mqtt/client.ts): a persistent session is not
 * written to flash for every QoS 1 message (two NVS writes a message wore the
 * boards' NVS out within months), yet what a reboot needs is still saved:
 *   - online, a message the broker acknowledges within the delay is never written;
 *   - one it does not acknowledge is saved when the delay is over;
 *   - offline (queued) it is saved at once, as is what was in flight when the
 *     connection drops, and what `end()` finds owed;
 *   - a change of the incoming QoS 2 ids is saved before the PUBREC leaves (§4.3.3).
 * Against mosquitto and, for a broker that never acknowledges, test/helpers/fake-broker.ts.
 */
import { describe, expect, test } from "vitest";
import mqtt from "mqtt";
import { connect, PreferenceSessionStore, type ClientOptions, type MqttClient, type PreferenceApi, type SessionStore } from "../../src/mqtt/index.js";
import type { SessionSnapshot } from "../../src/mqtt/session-types.js";
import { mosquittoSkipReason } from "../helpers/mosquitto.js";
import { SLOW_ACK_MS, startFakeBroker } from "../helpers/fake-broker.js";
import { FakePreferences } from "../helpers/fake-preferences.js";
import { brokerAndNoAck, connected, once, waitFor } from "./mqtt-helpers.js";

const skip = mosquittoSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** What a reboot would find: a new store object over the same preferences. */
const stored = (prefs: PreferenceApi): SessionSnapshot | undefined => new PreferenceSessionStore(prefs, "sess").load();

const closers: (() => Promise<unknown>)[] = [];
const peers = brokerAndNoAck(skip, async () => {
  for (const c of closers.reverse()) await Promise.race([c().catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
});

function client(options: ClientOptions): MqttClient {
  const c = connect({ host: "127.0.0.1", port: peers.broker.port, protocolVersion: 4, clean: false, reconnect: false, ...options });
  closers.push(() => c.end({ force: true }));
  return c;
}

describe.skipIf(skip !== undefined)("saveDelayMs: a persistent session saved without a flash write per message", () => {
  test("steady QoS 1 online: the delayed save finds nothing changed and writes nothing; without the delay every message is written", async () => {
    const writes: number[] = [];
    for (const saveDelayMs of [300, 0]) {
      const prefs = new FakePreferences();
      const c = client({ clientId: `sd-steady-${saveDelayMs}`, store: new PreferenceSessionStore(prefs, "sess"), saveDelayMs });
      await connected(c);
      const before = prefs.writes;
      for (let i = 0; i < 20; i++) await c.publish("sd/steady", `m${i}`, { qos: 1 });
      await sleep(700); // every delayed save has run
      writes.push(prefs.writes - before);
      // delayed: the record says "nothing held"; immediate: completions are not saved on
      // their own (store.ts), so it still holds the last message, sent again after a reboot
      expect(stored(prefs)?.outgoing ?? []).toHaveLength(saveDelayMs > 0 ? 0 : 1);
      await c.end();
    }
    const [delayed, immediate] = writes;
    expect(delayed).toBe(0); // nothing held at any delayed save, and nothing was stored: nothing to write
    expect(immediate).toBeGreaterThanOrEqual(20); // one save per message before it goes out
  });

  test("messages sent while the newest is still in flight: the delayed save waits for each one's own delay, and writes nothing when each is acknowledged within it", async () => {
    // A PUBACK takes 100 ms, a message goes every 150 ms: when a delayed save comes due the
    // newest message is in flight two times in three. It has not waited its delay (400 ms),
    // so the save waits for its turn (by when its PUBACK came) instead of writing.
    const own = await startFakeBroker("slow-ack");
    closers.push(() => own.close());
    const prefs = new FakePreferences();
    const c = client({ port: own.port, clientId: "sd-overlap", store: new PreferenceSessionStore(prefs, "sess"), saveDelayMs: 400 });
    await connected(c);
    const before = prefs.writes;
    const acked: Promise<unknown>[] = [];
    for (let i = 0; i < 16; i++) {
      acked.push(c.publish("sd/overlap", `m${i}`, { qos: 1 }));
      await sleep(150);
    }
    await Promise.all(acked);
    await sleep(SLOW_ACK_MS + 450);
    expect(prefs.writes - before).toBe(0);
    expect(stored(prefs)?.outgoing ?? []).toHaveLength(0);
  });

  test("a message the broker does not acknowledge is saved when the delay is over, not before", async () => {
    const prefs = new FakePreferences();
    const c = client({ port: peers.fake.port, clientId: "sd-noack", store: new PreferenceSessionStore(prefs, "sess"), saveDelayMs: 400 });
    await connected(c);
    void c.publish("sd/noack", "kept", { qos: 1 }).catch(() => undefined);
    await sleep(50);
    expect(stored(prefs)?.outgoing ?? []).toHaveLength(0);
    await waitFor(() => (stored(prefs)?.outgoing.length ?? 0) === 1, 3000);
    expect(new TextDecoder().decode(stored(prefs)!.outgoing[0].packet.payload)).toBe("kept");
  });

  test("end({ force }) saves what the delay still held (a reboot follows it)", async () => {
    const prefs = new FakePreferences();
    const c = client({ port: peers.fake.port, clientId: "sd-end", store: new PreferenceSessionStore(prefs, "sess"), saveDelayMs: 60_000 });
    await connected(c);
    void c.publish("sd/end", "owed", { qos: 1 }).catch(() => undefined);
    await sleep(50);
    expect(stored(prefs)?.outgoing ?? []).toHaveLength(0);
    void c.end({ force: true });
    expect(stored(prefs)?.outgoing).toHaveLength(1);
  });

  test("a lost connection saves what was in flight at once; offline a message is saved as it is queued", async () => {
    const prefs = new FakePreferences();
    const own = await startFakeBroker("no-ack");
    const c = client({ port: own.port, clientId: "sd-lost", store: new PreferenceSessionStore(prefs, "sess"), saveDelayMs: 60_000 });
    await connected(c);
    void c.publish("sd/lost", "in-flight", { qos: 1 }).catch(() => undefined);
    await sleep(50);
    expect(stored(prefs)?.outgoing ?? []).toHaveLength(0);
    const offline = once(c, "offline");
    await own.close(); // the fake broker drops its connections
    await offline;
    expect(stored(prefs)?.outgoing).toHaveLength(1);
    void c.publish("sd/lost", "queued", { qos: 1 }).catch(() => undefined);
    expect(stored(prefs)?.queued).toHaveLength(1);
  });

  test("an incoming QoS 2 message's id is saved before its PUBREC goes out, whatever the delay", async () => {
    const saves: { incoming: number[]; at: number }[] = [];
    const prefs = new FakePreferences();
    const inner = new PreferenceSessionStore(prefs, "sess");
    const store: SessionStore = {
      load: () => inner.load(),
      clear: () => inner.clear(),
      save(s) {
        saves.push({ incoming: s.incoming.slice(), at: Date.now() });
        inner.save(s);
      },
    };
    const c = client({ clientId: "sd-qos2", store, saveDelayMs: 60_000 });
    await connected(c);
    let deliveredAt = 0;
    let savesAtDelivery = -1;
    c.on("message", () => {
      deliveredAt = Date.now();
      savesAtDelivery = saves.length;
    });
    await c.subscribe("sd/qos2", undefined, { qos: 2 });
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${peers.broker.port}`, { clientId: "sd-qos2-pub", reconnectPeriod: 0 });
    closers.push(() => pub.endAsync(true));
    await pub.publishAsync("sd/qos2", "once", { qos: 2 });
    await waitFor(() => deliveredAt > 0, 3000);
    // deliveries first, then the save, then the bytes: the save right after the delivery holds the id
    await waitFor(() => saves.length > savesAtDelivery, 3000);
    const next = saves[savesAtDelivery];
    expect(next.incoming).toHaveLength(1);
    expect(next.at - deliveredAt).toBeLessThan(1000); // not after the 60 s delay
    // the PUBREL released it, and that change too was saved at once
    await waitFor(() => (stored(prefs)?.incoming.length ?? 1) === 0, 3000);
  });
});
