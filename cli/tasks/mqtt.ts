/**
 * CLI tasks `mqttPub` and `mqttSub` (`mote mqtt pub|sub`), written against
 * src/mqtt and TaskIO only, so they run unchanged in Node and inside XS.
 */
import { connect, type ClientOptions, type MqttClient } from "../../src/mqtt/index.js";
import type { QoS } from "../../src/mqtt/packets.js";
import { encodeUtf8 } from "../../src/util/utf8.js";
import type { TaskArgs, TaskIO } from "./types.js";

function str(v: TaskArgs[string]): string | undefined {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
}
function num(v: TaskArgs[string], fallback: number): number {
  return typeof v === "number" ? v : typeof v === "string" && v !== "" ? Number(v) : fallback;
}

/** Connection options shared by pub and sub, from the task args. */
export function clientOptions(args: TaskArgs, reconnect: boolean): ClientOptions {
  const tls = args.tls === true || args.ca instanceof Uint8Array;
  const o: ClientOptions = {
    host: str(args.host) ?? "localhost",
    port: num(args.port, tls ? 8883 : 1883),
    protocol: tls ? "mqtts" : "mqtt",
    protocolVersion: num(args.version, 5) === 4 ? 4 : 5,
    clientId: str(args.clientId) ?? `mote-${Math.floor(Math.random() * 1e9).toString(36)}`,
    keepAlive: num(args.keepAlive, 60),
    clean: args.persistent !== true,
    connectTimeoutMs: 10_000,
    reconnect: reconnect ? { initialDelayMs: 500, maxDelayMs: 10_000 } : false,
  };
  if (args.persistent === true && o.protocolVersion === 5) o.sessionExpiry = 3600;
  if (str(args.username) !== undefined) o.username = str(args.username);
  if (str(args.password) !== undefined) o.password = str(args.password);
  if (args.ca instanceof Uint8Array) o.ca = args.ca;
  if (args.insecure === true) o.verify = false;
  const willTopic = str(args.willTopic);
  if (willTopic !== undefined) {
    o.will = { topic: willTopic, payload: encodeUtf8(str(args.willPayload) ?? ""), qos: num(args.willQos, 0) as QoS, retain: args.willRetain === true };
  }
  return o;
}

function fail(io: TaskIO, e: unknown): void {
  const err = e as { code?: string; message?: string };
  const code = typeof err?.code === "string" ? err.code : "error";
  const message = typeof err?.message === "string" ? err.message : String(e);
  io.err(`mote: ${message.startsWith(code) ? message : `${code}: ${message}`}`);
}

/** Publishes one message (-m, or stdin with `stdin: true`), then disconnects. */
export function mqttPub(args: TaskArgs, io: TaskIO): void {
  const topic = str(args.topic);
  if (topic === undefined) {
    io.err("mote: usage: mqtt pub needs -t TOPIC");
    return io.exit(2);
  }
  const qos = num(args.qos, 0) as QoS;
  let finished = false;
  let client: MqttClient;
  const finish = (code: number, e?: unknown) => {
    if (finished) return;
    finished = true;
    if (e !== undefined) fail(io, e);
    client.end({ force: code !== 0 }).then(() => io.exit(code));
  };
  const send = (payload: Uint8Array) => {
    client.publish(topic, payload, { qos, retain: args.retain === true }).then(() => finish(0), (e) => finish(1, e));
  };
  try {
    client = connect(clientOptions(args, false));
  } catch (e) {
    fail(io, e);
    return io.exit(1);
  }
  client.on("error", (e) => finish(1, e));
  if (args.stdin === true) {
    const parts: Uint8Array[] = [];
    io.onInput((d) => {
      if (d) parts.push(d);
      else {
        const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) {
          all.set(p, o);
          o += p.length;
        }
        send(all);
      }
    });
  } else send(args.message instanceof Uint8Array ? args.message : encodeUtf8(str(args.message) ?? ""));
}

/** Subscribes and prints each payload on its own line (`verbose`: "topic payload"); stops after `count` messages. */
export function mqttSub(args: TaskArgs, io: TaskIO): void {
  const topics = Array.isArray(args.topic) ? args.topic : str(args.topic) !== undefined ? [str(args.topic)!] : [];
  if (topics.length === 0) {
    io.err("mote: usage: mqtt sub needs -t FILTER");
    return io.exit(2);
  }
  const count = num(args.count, 0);
  const qos = num(args.qos, 0) as QoS;
  let received = 0;
  let finished = false;
  let client: MqttClient;
  const finish = (code: number, e?: unknown) => {
    if (finished) return;
    finished = true;
    if (e !== undefined) fail(io, e);
    client.end({ force: code !== 0 }).then(() => io.exit(code));
  };
  try {
    client = connect(clientOptions(args, true));
  } catch (e) {
    fail(io, e);
    return io.exit(1);
  }
  let connectedOnce = false;
  client.on("connect", () => (connectedOnce = true));
  client.on("error", (e) => {
    // before the first connection any error is fatal (wrong host, refused credentials); later ones are reconnected
    if (!connectedOnce || e.code === "connect-refused") finish(1, e);
  });
  client.on("message", (topic, payload) => {
    if (finished) return;
    const line = args.verbose === true ? concat(encodeUtf8(topic + " "), payload) : payload;
    io.out(concat(line, NEWLINE));
    if (count > 0 && ++received >= count) finish(0);
  });
  client.subscribe(topics, undefined, { qos }).then(
    (codes) => {
      const refused = codes.findIndex((c) => c >= 0x80);
      if (refused >= 0) finish(1, { code: "subscribe-refused", message: `${topics[refused]}: reason 0x${codes[refused].toString(16)}` });
    },
    (e) => finish(1, e),
  );
}

const NEWLINE = Uint8Array.of(10);
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
