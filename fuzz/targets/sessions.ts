/**
 * The protocol cores as public entry points for peer bytes: an MQTT client
 * session (src/mqtt/session.ts) after CONNACK, and a CoAP endpoint
 * (src/coap/endpoint.ts) with client and server exchanges alive.
 *
 * Inputs: a script of steps — peer bytes (valid broker packets of every type
 * from the mqtt target's generator, mutated or random, in random chunks) or
 * datagrams (valid/mutated CoAP messages from the coap target), application
 * calls (publish/subscribe, requests, responses) and timer ticks at the core's
 * own `nextDeadline()`, on a fake clock.
 *
 * Properties (STYLE.md habit 4: peer faults come back as data): `handle`
 * never throws for peer input; every action is of a documented type; after
 * a `close` action the MQTT session is disconnected; the session's in-flight
 * window and the endpoint's exchange table stay within their bounds;
 * `nextDeadline()` is never in the past after a timer tick (no busy loop).
 */
import { encodePacket } from "../../src/mqtt/codec.js";
import { MqttSession, type SessionAction } from "../../src/mqtt/session.js";
import { Method, ResponseCode, encodeMessage, pathOptions } from "../../src/coap/codec.js";
import { CoapEndpoint, type EndpointAction, type Peer } from "../../src/coap/endpoint.js";
import { MoteError } from "../../src/errors.js";
import { FuzzFailure, Rng, assert, mixSeed, showValue, type FuzzTarget } from "../engine.js";
import { mutateBytes, randomBytes } from "../mutators.js";
import { randomPacket } from "./mqtt.js";
import { generateCoap } from "./coap.js";

export interface ScriptInput {
  seed: number;
  version: 4 | 5;
  steps: number;
}

const MQTT_ACTIONS = new Set(["send", "connected", "message", "published", "subscribed", "unsubscribed", "failed", "auth", "persist", "close"]);
const MAX_INFLIGHT = 4;

function brokerBytes(rng: Rng, v: 4 | 5): Uint8Array {
  const mode = rng.int(6);
  if (mode === 0) return randomBytes(rng, 48);
  let p = randomPacket(rng, v);
  if (p.type === "connect" && rng.bool(0.8)) p = { type: "pingresp" }; // a broker does not send CONNECT; some still do here
  const bytes = encodePacket(p, v);
  return mode <= 3 ? bytes : mutateBytes(rng, bytes, 3);
}

export const mqttSessionTarget: FuzzTarget<ScriptInput> = {
  name: "mqtt-session",
  description: "a connected MQTT client session fed broker bytes (valid, mutated, random; chunked), app calls and timer ticks: actions or a typed close, never a throw; bounds kept",
  generate: (rng) => ({ seed: rng.u32(), version: rng.bool() ? 5 : 4, steps: 1 + rng.size(40) }),
  show: (i) => showValue(i),
  check(input) {
    const rng = new Rng(mixSeed(input.seed, 1));
    const v = input.version;
    const s = new MqttSession({ clientId: "fz", protocolVersion: v, maxInflight: MAX_INFLIGHT, queueMaxMessages: 8, keepAlive: 5, clean: rng.bool() });
    let now = 0;
    let closed = false;
    const run = (acts: SessionAction[]) => {
      for (const a of acts) {
        assert(MQTT_ACTIONS.has(a.type), `unknown action ${a.type}`);
        if (a.type === "close") closed = true;
      }
      if (closed) assert(s.state === "disconnected" || s.state === "ended", `state ${s.state} after close`);
    };
    run(s.handle({ type: "open" }, now));
    run(s.handle({ type: "bytes", data: encodePacket({ type: "connack", sessionPresent: false, reasonCode: 0 }, v) }, now));
    for (let k = 0; k < input.steps && !closed; k++) {
      now += rng.int(3000);
      try {
        switch (rng.int(6)) {
          case 0:
          case 1:
          case 2: {
            const bytes = brokerBytes(rng, v);
            for (let at = 0; at < bytes.length && !closed; ) {
              const n = 1 + rng.size(bytes.length - at);
              run(s.handle({ type: "bytes", data: bytes.subarray(at, at + n) }, now));
              at += n;
            }
            break;
          }
          case 3:
            try {
              run(s.handle({ type: "publish", message: { topic: "t/x", payload: rng.bytes(rng.size(20)), qos: rng.int(3) as 0 | 1 | 2 }, ref: k }, now));
            } catch (e) {
              if (!(e instanceof MoteError)) throw e; // caller misuse in this state is a MoteError
            }
            break;
          case 4:
            try {
              run(s.handle({ type: "subscribe", subscriptions: [{ filter: "a/#", qos: 1 }], ref: k }, now));
            } catch (e) {
              if (!(e instanceof MoteError)) throw e;
            }
            break;
          default: {
            const d = s.nextDeadline();
            if (d !== undefined) {
              now = Math.max(now, d);
              run(s.handle({ type: "timer" }, now));
              const after = s.nextDeadline();
              assert(after === undefined || after > now || closed, `nextDeadline ${after} not after the tick at ${now}`);
            }
          }
        }
      } catch (e) {
        if (e instanceof FuzzFailure) throw e;
        throw new Error(`MqttSession.handle threw on peer input: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
      assert(s.snapshot().outgoing.length <= MAX_INFLIGHT, "in-flight window exceeded");
    }
    return closed ? "ok:closed" : `ok:${s.state}`;
  },
};

// ---------------------------------------------------------------- CoAP endpoint

const SERVER: Peer = Object.freeze({ address: "10.0.0.1", port: 5683 });
const OTHER: Peer = Object.freeze({ address: "10.0.0.9", port: 9 });
const ENDPOINT_ACTIONS = new Set(["send", "response", "block", "notification", "failed", "pong", "incoming", "observer-gone"]);

export const coapEndpointTarget: FuzzTarget<ScriptInput> = {
  name: "coap-endpoint",
  description: "a CoAP endpoint with live client/server exchanges fed valid, mutated and random datagrams, app calls and timer ticks: never a throw; exchange tables bounded",
  generate: (rng) => ({ seed: rng.u32(), version: 5, steps: 1 + rng.size(60) }),
  show: (i) => showValue(i),
  check(input) {
    const rng = new Rng(mixSeed(input.seed, 2));
    const ep = new CoapEndpoint({ random: () => rng.float(), maxExchanges: 8, maxQueued: 4, maxServerExchanges: 4, maxDedup: 16, maxDedupBytes: 1024 });
    let now = 0;
    let id = 1;
    const pendingServer: number[] = [];
    const run = (acts: EndpointAction[]) => {
      for (const a of acts) {
        assert(ENDPOINT_ACTIONS.has(a.type), `unknown action ${a.type}`);
        if (a.type === "incoming") pendingServer.push(a.exchange);
      }
    };
    for (let k = 0; k < input.steps; k++) {
      now += rng.int(2000);
      try {
        switch (rng.int(6)) {
          case 0:
          case 1:
          case 2: {
            const data = rng.bool(0.2)
              ? encodeMessage({ type: rng.pick(["ACK", "CON", "NON", "RST"] as const), code: rng.pick([0, ResponseCode.Content, Method.GET]), messageId: rng.int(0x10000), token: rng.bytes(rng.int(5)), options: [], payload: new Uint8Array(0) })
              : generateCoap(rng).bytes;
            run(ep.handle({ type: "datagram", peer: rng.bool(0.8) ? SERVER : OTHER, data }, now));
            break;
          }
          case 3:
            try {
              run(ep.handle({ type: "request", id: id++, peer: SERVER, request: { method: Method.GET, options: pathOptions("/x"), observe: rng.bool(0.3), confirmable: rng.bool(0.8) } }, now));
            } catch (e) {
              if (!(e instanceof MoteError)) throw e;
            }
            break;
          case 4:
            if (pendingServer.length) {
              const ex = pendingServer.splice(rng.int(pendingServer.length), 1)[0];
              try {
                run(ep.handle({ type: "respond", exchange: ex, response: { code: ResponseCode.Content, payload: rng.bytes(rng.size(40)) } }, now));
              } catch (e) {
                if (!(e instanceof MoteError)) throw e;
              }
            }
            break;
          default: {
            const d = ep.nextDeadline();
            if (d !== undefined) {
              now = Math.max(now, d);
              run(ep.handle({ type: "timer" }, now));
              const after = ep.nextDeadline();
              assert(after === undefined || after > now, `nextDeadline ${after} not after the tick at ${now}`);
            }
          }
        }
      } catch (e) {
        if (e instanceof FuzzFailure) throw e;
        throw new Error(`CoapEndpoint.handle threw: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
      assert(ep.exchangeCount <= 8, `exchange table ${ep.exchangeCount} > maxExchanges 8`);
    }
    return `ok:${ep.exchangeCount}`;
  },
};

