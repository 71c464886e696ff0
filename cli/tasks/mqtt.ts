/**
 * CLI tasks `mqttPub` and `mqttSub` (`mote mqtt pub|sub`), written against
 * src/mqtt and TaskIO only, so they run unchanged in Node and inside XS.
 *
 * Like mosquitto_pub/sub they speak MQTT 3.1.1 unless `version` is 5 (-V 5).
 * Every way a run can end is bounded and says why in one line
 * (`mote: <code>: <words>`, types.ts): the broker refusing or closing the
 * connection before CONNACK, or before the PUBACK/PUBCOMP of the message,
 * a SUBACK refusing a filter, and an acknowledgement that never comes.
 */
import { connect, parseMqttUrls, type ClientOptions, type MqttClient } from "../../src/mqtt/index.js";
import type { QoS } from "../../src/mqtt/packets.js";
import { reasonName } from "../../src/mqtt/reason-codes.js";
import { clearTimer, setTimer, type TimerHandle } from "../../src/platform/timer.js";
import { encodeUtf8 } from "../../src/util/utf8.js";
import { errorLine, hostPort, type TaskArgs, type TaskIO } from "./types.js";

/** How long a CONNACK may take (the session's connect timeout). */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long pub waits for the PUBACK / PUBCOMP once connected: never for ever. */
const ACK_TIMEOUT_MS = 30_000;

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
    protocolVersion: num(args.version, 4) === 5 ? 5 : 4, // mosquitto's default: 3.1.1; -V 5 selects 5
    clientId: str(args.clientId) ?? `mote-${Math.floor(Math.random() * 1e9).toString(36)}`,
    keepAlive: num(args.keepAlive, 60),
    clean: args.persistent !== true,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    reconnect: reconnect ? { initialDelayMs: 500, maxDelayMs: 10_000 } : false,
  };
  // A broker list (-L url,url or -h host,host): the client fails over along it (src/mqtt/reconnect.ts)
  const hosts = (o.host as string).split(",");
  if (str(args.brokers) !== undefined) o.url = str(args.brokers);
  else if (hosts.length > 1)
    o.url = hosts
      .map((h) => h.trim().replace(/^\[(.*)\]$/, "$1"))
      .map((h) => `${tls ? "mqtts" : "mqtt"}://${h.includes(":") ? `[${h}]` : h}:${o.port}`)
      .join(",");
  if (o.url !== undefined) {
    const first = parseMqttUrls(o.url)[0];
    o.host = first.host;
    o.port = first.port;
  }
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

/** Where a connection stood when it failed, to say what was missing. */
interface Stage {
  host: string;
  port: number;
  version: 4 | 5;
  connected: boolean;
  /** What the run was waiting for once connected ("PUBACK", "SUBACK", ...). */
  awaiting: string;
}

/** The words for an MQTT client error (undefined: its own message says it). */
function explain(e: unknown, at: Stage): string | undefined {
  const err = e as { code?: unknown; message?: unknown; reasonCode?: unknown };
  const before = at.connected ? at.awaiting : "CONNACK";
  switch (err?.code) {
    case "refused":
      return `the connection to ${hostPort(at.host, at.port)} was refused: no broker listens there`;
    case "reset":
      return `the broker reset the connection before ${before}`;
    case "closed":
      // MQTT 3.1.1 §3.1.2.2: a 3.1.1-only broker may close a v5 CONNECT without a CONNACK (RabbitMQ 3.10 does)
      if (!at.connected && at.version === 5) return "the broker closed the connection before CONNACK: it may not speak MQTT 5 (try -V 311)";
      return `the broker closed the connection before ${before}`;
    case "timeout": // the transport phase; once connected, the run's own ack timer, whose message says so
      return at.connected ? undefined : `no connection to ${hostPort(at.host, at.port)} within ${CONNECT_TIMEOUT_MS / 1000} s`;
    case "connect-timeout":
      return `no CONNACK from the broker within ${CONNECT_TIMEOUT_MS / 1000} s`;
    case "connect-refused": {
      const rc = typeof err.reasonCode === "number" ? err.reasonCode : undefined;
      const why = typeof err.message === "string" ? err.message.replace(/^connect-refused: /, "") : "";
      // MQTT 5 §3.1.4 / 3.1.1 §3.1.2.2: a broker without this protocol version refuses it
      if (rc === 0x84) return `the broker does not accept MQTT ${at.version === 5 ? "5 (try -V 311)" : "3.1.1 (try -V 5)"}: ${why}`;
      return `the broker refused the connection: ${why}${rc === undefined ? "" : ` (reason code 0x${rc.toString(16).padStart(2, "0")})`}`;
    }
    case "rejected": {
      // PUBACK / PUBREC with a failure reason code (MQTT 5 §3.4.2.1)
      const rc = typeof err.reasonCode === "number" ? err.reasonCode : undefined;
      const said = typeof err.message === "string" ? err.message.replace(/^rejected(: )?/, "") : "";
      const why = said !== "" ? said : rc !== undefined ? reasonName(rc) : "";
      return `the broker refused the message${why === "" ? "" : `: ${why}`}${rc === undefined ? "" : ` (0x${rc.toString(16)})`}`;
    }
    case "qos-not-supported":
      // the session says when the broker acknowledged QoS 2 at QoS 1 (PUBACK instead of PUBREC)
      if (typeof err.message === "string" && err.message.includes("PUBACK")) return `${err.message.replace(/^qos-not-supported: /, "")}: try -q 1`;
      return "the broker does not take this QoS (its CONNACK Maximum QoS is lower): try a lower -q";
    case "retain-not-supported":
      return "the broker does not keep retained messages (CONNACK Retain Available 0): drop -r";
    default:
      return undefined;
  }
}

function fail(io: TaskIO, e: unknown, at: Stage): void {
  io.err(errorLine(e, explain(e, at)));
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
  let ackTimer: TimerHandle | undefined;
  let options: ClientOptions;
  try {
    options = clientOptions(args, false);
  } catch (e) {
    io.err(errorLine(e));
    return io.exit(1);
  }
  const stage: Stage = { host: options.host!, port: options.port!, version: options.protocolVersion === 5 ? 5 : 4, connected: false, awaiting: qos === 2 ? "PUBCOMP" : "PUBACK" };
  const finish = (code: number, e?: unknown) => {
    if (finished) return;
    finished = true;
    clearTimer(ackTimer);
    if (e !== undefined) fail(io, e, stage);
    client.end({ force: code !== 0 }).then(() => io.exit(code));
  };
  let handed = false;
  // The acknowledgement is awaited from when the broker has accepted the connection
  // and the message was handed over (stdin may take its time to end): 30 s at most.
  const awaitAck = () => {
    if (qos === 0 || !handed || !stage.connected || finished || ackTimer !== undefined) return;
    ackTimer = setTimer(() => {
      ackTimer = undefined;
      finish(1, { code: "timeout", message: `no ${stage.awaiting} from the broker within ${ACK_TIMEOUT_MS / 1000} s` });
    }, ACK_TIMEOUT_MS);
  };
  const send = (payload: Uint8Array) => {
    handed = true;
    client.publish(topic, payload, { qos, retain: args.retain === true }).then(() => finish(0), (e) => finish(1, e));
    awaitAck();
  };
  try {
    client = connect(options);
  } catch (e) {
    io.err(errorLine(e));
    return io.exit(1);
  }
  client.on("connect", () => {
    stage.connected = true;
    awaitAck();
  });
  const list = brokerList(options, stage);
  client.on("error", (e) => {
    if (!list.failed(client)) finish(1, e);
  });
  // Reconnecting is off: a connection that ends before the message is acknowledged
  // ends the run (some hosts report a broker's hang-up as a clean close, no error);
  // with a broker list, an attempt that fails before CONNACK goes on to the next broker.
  client.on("close", () => {
    if (!list.closed()) finish(1, { code: "closed" });
  });
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
  let options: ClientOptions;
  try {
    options = clientOptions(args, true);
  } catch (e) {
    io.err(errorLine(e));
    return io.exit(1);
  }
  const stage: Stage = { host: options.host!, port: options.port!, version: options.protocolVersion === 5 ? 5 : 4, connected: false, awaiting: "SUBACK" };
  const finish = (code: number, e?: unknown) => {
    if (finished) return;
    finished = true;
    if (e !== undefined) fail(io, e, stage);
    client.end({ force: code !== 0 }).then(() => io.exit(code));
  };
  try {
    client = connect(options);
  } catch (e) {
    io.err(errorLine(e));
    return io.exit(1);
  }
  client.on("connect", () => (stage.connected = true));
  // Before the first CONNACK any end is fatal (wrong host, refused credentials, a
  // broker that hangs up, reported by some hosts as a clean close) — once every
  // broker of a list failed; later ones are reconnected, as mosquitto_sub does,
  // except a refusal.
  const list = brokerList(options, stage);
  client.on("error", (e) => {
    if (list.failed(client)) return;
    if (!stage.connected || e.code === "connect-refused") finish(1, e);
  });
  client.on("close", () => {
    if (!stage.connected && !list.closed()) finish(1, { code: "closed" });
  });
  client.on("message", (topic, payload) => {
    if (finished) return;
    const line = args.verbose === true ? concat(encodeUtf8(topic + " "), payload) : payload;
    io.out(concat(line, NEWLINE));
    if (count > 0 && ++received >= count) finish(0);
  });
  client.subscribe(topics, undefined, { qos }).then(
    (codes) => {
      // MQTT 3.1.1 §3.9.3 / 5 §3.9.3: 0x80 and above refuse the filter; a lower
      // code is the QoS granted, which may be less than asked (RabbitMQ: no QoS 2).
      const refused = codes.findIndex((c) => c >= 0x80);
      if (refused >= 0) {
        const rc = codes[refused];
        const why = stage.version === 5 ? `: ${reasonName(rc)}` : "";
        return finish(1, { code: "subscribe-refused", message: `the broker refused the subscription to "${topics[refused]}" (SUBACK 0x${rc.toString(16)}${why})` });
      }
      codes.forEach((granted, i) => {
        if (granted < qos) io.err(`mote: qos-downgraded: the broker granted QoS ${granted} for "${topics[i]}", not ${qos}`);
      });
    },
    (e) => finish(1, e),
  );
}

/**
 * Before the first CONNACK, a broker list's failed attempts: `failed` (on an
 * error) is true while another broker is left to try, and points the error
 * words at the broker that failed; `closed` (on the attempt's close) is true
 * when the run goes on with the next broker. Once connected, both are false.
 */
function brokerList(options: ClientOptions, stage: Stage): { failed(client: MqttClient): boolean; closed(): boolean } {
  let left = options.url === undefined ? 0 : parseMqttUrls(options.url).length - 1;
  return {
    failed(client) {
      if (stage.connected) return false;
      const b = client.broker;
      stage.host = b.host;
      stage.port = b.port;
      return left > 0; // not said: the last broker's failure is the run's one line
    },
    closed() {
      if (stage.connected || left === 0) return false;
      left--;
      return true;
    },
  };
}

const NEWLINE = Uint8Array.of(10);
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
