/** Small helpers for the MQTT interop tests: wait for events with a bound, collect messages. */
import type { MqttClient } from "../../src/mqtt/index.js";
import type { PublishPacket } from "../../src/mqtt/packets.js";
import { afterAll, beforeAll } from "vitest";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { startFakeBroker, type FakeBroker } from "../helpers/fake-broker.js";

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array | string): string => (typeof b === "string" ? b : new TextDecoder().decode(b));

/** The first emission of `event` (its first argument), or a rejection after `ms`. */
export function once(c: MqttClient, event: "connect" | "error" | "close" | "offline" | "reconnect", ms = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    const f = (arg?: unknown) => {
      clearTimeout(t);
      c.off(event, f as never);
      resolve(arg);
    };
    c.on(event, f as never);
  });
}

/** Messages the client receives on topics matching a prefix of `filter` (all when "#"). */
export function collect(c: MqttClient, filter: string): PublishPacket[] {
  const prefix = filter.replace(/#$/, "");
  const out: PublishPacket[] = [];
  c.on("message", (topic, payload, p) => {
    if (topic.startsWith(prefix)) out.push({ ...p, payload: payload.slice() });
  });
  return out;
}

/** Polls `cond` every 10 ms, at most `ms`. */
export async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves once the client is connected (at once if it already is). */
export function connected(c: MqttClient, ms = 10_000): Promise<unknown> {
  return c.connected ? Promise.resolve() : once(c, "connect", ms);
}

/**
 * For a test file: mosquitto and a fake broker that never acknowledges, started
 * before its tests (not when `skip` says the peer is missing) and closed after
 * them, once `cleanUp` (the file's clients) has run.
 */
export function brokerAndNoAck(skip: string | undefined, cleanUp: () => Promise<void>): { readonly broker: Mosquitto; readonly fake: FakeBroker } {
  const peers = {} as { broker: Mosquitto; fake: FakeBroker };
  beforeAll(async () => {
    if (skip) return;
    peers.broker = await startMosquitto();
    peers.fake = await startFakeBroker("no-ack");
  }, 20_000);
  afterAll(async () => {
    await cleanUp();
    await peers.fake?.close();
    await peers.broker?.close();
  });
  return peers;
}
