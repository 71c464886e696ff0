/**
 * The program of `npm run bench -- mqtt-moddable` (bench/mqtt-moddable.ts): one Moddable
 * program on the lin runtime with three MQTT clients connected to the same mosquitto,
 * each publishing the same 64 B payload:
 *   mote-q0 / mote-q1   mote's client (`mote/mqtt`, the preloaded library a device app
 *                       imports; bench/mqtt-moddable.ts maps ../src/mqtt/index.js to it)
 *   419-q0              Moddable's ECMA-419 client (examples/io/tcp/mqttclient), written
 *                       as its example does: write() while its returned budget allows
 *   wrapper-q1          Moddable's `mqtt/js` (examples/io/tcp/mqtt), the MQTT.js-style
 *                       API on the 419 client: publish(topic, message, { qos: 1 }, callback)
 * Each round runs every client once, in an order that alternates; a client's round is
 * the time from its first publish to its last completion (QoS 0: the last message
 * handed to the socket; QoS 1: the last PUBACK) on the engine's own millisecond clock.
 * QoS 1 keeps WINDOW messages outstanding for both clients (mote's default in-flight
 * window is 16); mote's QoS 0 keeps WINDOW0 publishes outstanding (its API has no
 * write budget: a QoS 0 publish resolves once written, and is refused past 64 KB queued).
 * Lines: "mqtt-round <client> <messages/s>", "mqtt-done ok|<error>".
 */
import { connect, type MqttClient } from "../src/mqtt/index.js";
import * as wrapperMqtt from "mqtt/js";
import Timer from "timer";
import Time from "time";

declare const trace: (s: string) => void;
declare const BENCH_PORT: number;
declare const BENCH_ROUNDS: number;
declare const BENCH_Q0: number;
declare const BENCH_Q1: number;
// globalThis.device of Moddable's mqttclient/config: { network: { mqtt: { io: MQTTClient, ... } } }
declare const device: { network: { mqtt: Record<string, unknown> & { io: Raw419Class } } };

interface Raw419 {
  write(data: ArrayBuffer | Uint8Array | null, options?: Record<string, unknown>): number;
  read(count: number): ArrayBuffer;
  close(): void;
}
type Raw419Class = (new (options: Record<string, unknown>) => Raw419) & { CONNACK: number; PUBACK: number };

const WINDOW = 16;
const WINDOW0 = 64;
const payload = new Uint8Array(64).fill(0x61);
const payloadBuffer = payload.slice().buffer;

type Round = (done: (ms: number) => void, fail: (why: string) => void) => void;

function moteRound(client: MqttClient, topic: string, qos: 0 | 1, total: number): Round {
  return (done, fail) => {
    const window = qos ? WINDOW : WINDOW0;
    let started = 0;
    let completed = 0;
    const t0 = Time.ticks;
    const next = (): void => {
      while (started < total && started - completed < window) {
        started++;
        client.publish(topic, payload, { qos }).then(onDone, (e: Error) => fail(`mote publish: ${e.message}`));
      }
    };
    const onDone = (): void => {
      if (++completed === total) done(Time.ticks - t0);
      else next();
    };
    next();
  };
}

/** Moddable's 419 client at QoS 0, as its example writes: while the budget write() returns allows. */
function raw419Round(state: { client?: Raw419; writable: number; onWritable?: () => void }, topic: string, total: number): Round {
  // fixed header 1 + remaining length 1 + topic length 2 + topic + payload
  const need = 4 + topic.length + payload.length;
  return (done) => {
    let sent = 0;
    const t0 = Time.ticks;
    const pump = (): void => {
      const c = state.client!;
      while (sent < total && state.writable >= need) {
        state.writable = c.write(payloadBuffer, { topic, QoS: 0, byteLength: payload.length });
        sent++;
      }
      if (sent === total) {
        state.onWritable = undefined;
        done(Time.ticks - t0);
      }
    };
    state.onWritable = pump;
    pump();
  };
}

function wrapperRound(client: WrapperClient, topic: string, total: number): Round {
  return (done, fail) => {
    let started = 0;
    let completed = 0;
    const t0 = Time.ticks;
    const onDone = (err?: unknown): void => {
      if (err) return fail(`wrapper publish: ${String(err)}`);
      if (++completed === total) done(Time.ticks - t0);
      else next();
    };
    const next = (): void => {
      while (started < total && started - completed < WINDOW) {
        started++;
        client.publish(topic, payloadBuffer, { qos: 1 }, onDone);
      }
    };
    next();
  };
}

interface WrapperClient {
  publish(topic: string, message: ArrayBuffer, options: { qos: 0 | 1 }, callback: (err?: unknown) => void): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
  end(force?: boolean): void;
}

function connectAll(ready: (rounds: [string, Round][]) => void, fail: (why: string) => void): void {
  let pending = 3;
  const one = (): void => {
    if (--pending === 0) ready(rounds);
  };
  const mote = connect({ host: "127.0.0.1", port: BENCH_PORT, clientId: "bench-mote", reconnect: false });
  mote.on("connect", one);
  mote.on("error", (e) => fail(`mote: ${e.message}`));

  const MQTTClient = device.network.mqtt.io;
  const raw: { client?: Raw419; writable: number; onWritable?: () => void } = { writable: 0 };
  raw.client = new MQTTClient({
    ...device.network.mqtt,
    host: "127.0.0.1",
    port: BENCH_PORT,
    id: "bench-419",
    keepalive: 60_000,
    onControl(msg: { operation: number }) {
      if (msg.operation === MQTTClient.CONNACK) one();
    },
    onReadable(this: Raw419, count: number) {
      this.read(count);
    },
    onWritable(count: number) {
      raw.writable = count;
      raw.onWritable?.();
    },
    onError() {
      fail("419 client: error");
    },
  });

  const wrapper = (wrapperMqtt as unknown as { connect(url: string, options: Record<string, unknown>): WrapperClient }).connect(`mqtt://127.0.0.1:${BENCH_PORT}`, {
    clientId: "bench-wrapper",
    reconnectPeriod: 0,
  });
  wrapper.on("connect", one);
  wrapper.on("error", (e) => fail(`wrapper: ${String(e)}`));

  const rounds: [string, Round][] = [
    ["mote-q0", moteRound(mote, "bench/mote/q0", 0, BENCH_Q0)],
    ["419-q0", raw419Round(raw, "bench/419/q0", BENCH_Q0)],
    ["mote-q1", moteRound(mote, "bench/mote/q1", 1, BENCH_Q1)],
    ["wrapper-q1", wrapperRound(wrapper, "bench/wrapper/q1", BENCH_Q1)],
  ];
}

let failed = false;
const fail = (why: string): void => {
  if (failed) return;
  failed = true;
  trace(`mqtt-done ${why}\n`);
};

connectAll((rounds) => {
  let round = 0;
  let index = 0;
  const step = (): void => {
    if (failed) return;
    if (index === rounds.length) {
      index = 0;
      if (++round === BENCH_ROUNDS) {
        trace("mqtt-done ok\n");
        return;
      }
    }
    // odd rounds run the clients in reverse order: neither goes first every time
    const [name, run] = rounds[round % 2 ? rounds.length - 1 - index : index];
    index++;
    const total = name.endsWith("q0") ? BENCH_Q0 : BENCH_Q1;
    run(
      (ms) => {
        trace(`mqtt-round ${name} ${Math.round((total * 1000) / Math.max(ms, 1))} ${ms}\n`);
        // the next round starts from a fresh job, after the broker has caught up a little
        Timer.set(step, 100);
      },
      fail,
    );
  };
  trace("mqtt-connected\n");
  Timer.set(step, 200);
}, fail);
