/**
 * `mote mqtt pub|sub` — mosquitto_pub/sub-like flags, mapped onto the tasks
 * mqttPub / mqttSub (cli/tasks/mqtt.ts), run in the chosen engine.
 */
import { readFileSync } from "node:fs";
import { parseArgs, parseEngine, parsePort, UsageError, wantsHelp } from "./args.js";
import { runTask } from "./engine.js";
import type { TaskArgs } from "./tasks/types.js";
import { derOf } from "../src/util/pem.js";

const USAGE = `usage: mote mqtt pub -t TOPIC (-m MESSAGE | -n | -s) [options]
       mote mqtt sub -t FILTER [-t FILTER ...] [-C COUNT] [-v] [options]
options: -h HOST[,HOST...]  -p PORT  -q 0|1|2  -r (retain)  -i CLIENT_ID  -u USER  -P PASSWORD
         -k KEEPALIVE  -V 311|5 (default 311, as mosquitto)  -c (persistent session)
         -L mqtt(s)://user:pass@host:port/topic[,mqtt(s)://...]  (several hosts or URLs: a broker list, failover)
         --will-topic T --will-payload P --will-qos Q --will-retain  --cafile FILE  --insecure
         --engine node|xs|moddable`;

export async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const [sub, ...rest] = argv;
  const { options: o, positional } = parseArgs(rest, {
    host: { short: "h", value: true },
    port: { short: "p", value: true },
    topic: { short: "t", value: true, repeat: true },
    message: { short: "m", value: true },
    "null-message": { short: "n" },
    stdin: { short: "s" },
    qos: { short: "q", value: true },
    retain: { short: "r" },
    id: { short: "i", value: true },
    username: { short: "u", value: true },
    password: { short: "P", value: true },
    keepalive: { short: "k", value: true },
    "protocol-version": { short: "V", value: true },
    "clean-session-off": { short: "c" },
    count: { short: "C", value: true },
    verbose: { short: "v" },
    url: { short: "L", value: true },
    "will-topic": { value: true },
    "will-payload": { value: true },
    "will-qos": { value: true },
    "will-retain": {},
    cafile: { value: true },
    insecure: {},
    engine: { short: "e", value: true },
  });
  if (sub !== "pub" && sub !== "sub") throw new UsageError(`mqtt needs pub or sub\n${USAGE}`);
  if (positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const args: TaskArgs = {};
  let topics = (o.topic as string[] | undefined) ?? [];
  if (typeof o.url === "string") {
    // Several URLs separated by commas are a broker list (failover, docs/mqtt.md); the
    // first gives the defaults and the topic ("," inside credentials is written %2C).
    const parts = o.url.split(",");
    if (parts.length > 8) throw new UsageError("-L takes at most 8 broker URLs");
    for (const [i, part] of parts.entries()) {
      // RFC 3986 §3.2.2: an IPv6 literal host is written in brackets (mqtt://[::1]:1883/t)
      const m = /^(mqtts?):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?(\[[0-9a-fA-F:.]+\]|[^:/[\]]+)(?::(\d+))?(?:\/(.*))?$/.exec(part);
      if (m === null) throw new UsageError(`-L needs mqtt(s)://[user[:pass]@]host[:port]/topic, not "${part}"`);
      if (m[2]) decodeUrlPart(m[2], "user name");
      if (m[3] !== undefined) decodeUrlPart(m[3], "password");
      if (m[5]) parsePort(m[5]);
      if (i > 0) continue;
      if (m[1] === "mqtts") args.tls = true;
      if (m[2]) args.username = decodeUrlPart(m[2], "user name");
      if (m[3] !== undefined) args.password = decodeUrlPart(m[3], "password");
      args.host = m[4].replace(/^\[(.*)\]$/, "$1");
      if (m[5]) args.port = parsePort(m[5]);
      if (m[6]) topics = [...topics, decodeUrlPart(m[6], "topic")];
    }
    if (parts.length > 1) args.brokers = parts.map((p) => p.replace(/^(mqtts?:\/\/[^/]*)\/.*$/, "$1")).join(",");
  }
  if (typeof o.host === "string") args.host = o.host.replace(/^\[(.*)\]$/, "$1");
  if (typeof o.port === "string") args.port = parsePort(o.port);
  const qos = o.qos === undefined ? 0 : Number(o.qos);
  if (![0, 1, 2].includes(qos)) throw new UsageError("-q must be 0, 1 or 2");
  args.qos = qos;
  if (o["protocol-version"] !== undefined) {
    const v = o["protocol-version"];
    if (v !== "311" && v !== "5" && v !== "mqttv311" && v !== "mqttv5") throw new UsageError("-V must be 311 or 5");
    args.version = v === "5" || v === "mqttv5" ? 5 : 4;
  }
  if (typeof o.id === "string") args.clientId = o.id;
  if (typeof o.username === "string") args.username = o.username;
  if (typeof o.password === "string") args.password = o.password;
  if (typeof o.keepalive === "string") {
    const k = Number(o.keepalive);
    if (!(k >= 0 && k <= 65535)) throw new UsageError("-k must be 0..65535 seconds");
    args.keepAlive = k;
  }
  if (o["clean-session-off"]) {
    if (args.clientId === undefined) throw new UsageError("-c needs -i CLIENT_ID");
    args.persistent = true;
  }
  if (typeof o["will-topic"] === "string") {
    args.willTopic = o["will-topic"];
    args.willPayload = typeof o["will-payload"] === "string" ? o["will-payload"] : "";
    args.willQos = o["will-qos"] === undefined ? 0 : Number(o["will-qos"]);
    args.willRetain = o["will-retain"] === true;
  }
  // One certificate, PEM or DER: checked here, so a wrong file ends with its PemError code before any connection
  if (typeof o.cafile === "string") args.ca = derOf(new Uint8Array(readFileSync(o.cafile)), ["CERTIFICATE", "X509 CERTIFICATE", "X.509 CERTIFICATE"], `--cafile ${o.cafile}`);
  if (o.insecure) args.insecure = true;
  if (topics.length === 0) throw new UsageError(`-t TOPIC is required\n${USAGE}`);
  const engine = parseEngine(o.engine);
  if (sub === "pub") {
    if (topics.length !== 1) throw new UsageError("pub takes one -t TOPIC");
    args.topic = topics[0];
    if (o.stdin) args.stdin = true;
    else if (typeof o.message === "string") args.message = o.message;
    else if (o["null-message"]) args.message = "";
    else throw new UsageError("pub needs -m MESSAGE, -n or -s");
    if (o.retain) args.retain = true;
    return runTask("mqttPub", args, { engine });
  }
  args.topic = topics;
  if (o.count !== undefined) {
    const c = Number(o.count);
    if (!(c >= 1)) throw new UsageError("-C must be a positive count");
    args.count = c;
  }
  if (o.verbose) args.verbose = true;
  return runTask("mqttSub", args, { engine });
}

/** Percent-decodes one part of the -L URL; a bad escape is a usage error, not a URIError. */
function decodeUrlPart(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new UsageError(`-L has a bad %-escape in the ${what}: "${text}"`);
  }
}
