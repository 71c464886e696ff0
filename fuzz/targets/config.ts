/**
 * Configuration values (src/runtime/config.ts) and the MQTT `cmd/...`
 * command decoder (src/app/commands.ts), which is how values reach it.
 *
 * Inputs: a key (real keys, unknown keys, prototype names) and a value of
 * any JSON shape plus bytes: valid values at their bounds, strings with
 * wildcards, lists of coap:// URIs with separators inside, hex keys.
 *
 * Properties:
 * - `normalizeConfigValue` returns a value or throws ConfigError, nothing else;
 * - a value accepted once is accepted again at the next boot: its stored form
 *   (`toStoredValue`) normalizes to an equal value (the file's own promise);
 * - `buildConfig` never throws for bad values (they land in `problems`);
 * - `parseCommand` never throws: a Command or a CommandError.
 */
import { parseCommand, topicsFor } from "../../src/app/commands.js";
import { CommandError } from "../../src/app/commands.js";
import { CONFIG_KEYS, ConfigError, buildConfig, normalizeConfigValue, toStoredValue, type ConfigKey } from "../../src/runtime/config.js";
import { encodeUtf8 } from "../../src/util/utf8.js";
import { FuzzFailure, assert, deepEqual, hex, showValue, type FuzzTarget, type Rng } from "../engine.js";
import { mutateBytes, mutateText, randomText } from "../mutators.js";

export interface ConfigInput {
  key: string;
  value: unknown;
}

const KEYS = Object.freeze(Object.keys(CONFIG_KEYS));
const ODD_KEYS = Object.freeze(["__proto__", "constructor", "toString", "hasOwnProperty", "", "SSID", "reboot"]);
const DICT = Object.freeze(["coap://h/a", "coaps://[::1]:5684/x?y", ",", " ", "\t", "+", "#", "/", "//", "$", "mqtt://b:1883", "mqtts://[::1]", "04", "ff", "é", "\u0000", "-1", " 42 "]);

function valueFor(rng: Rng, key: string): unknown {
  switch (rng.int(10)) {
    case 0:
      return rng.pick([null, undefined, true, false, 0, -1, 1.5, 2 ** 53, NaN, Infinity, [], {}, "", [1, 2]]);
    case 1:
      return rng.bytes(rng.pick([0, 33, 64, 65, 66]));
    case 2:
      return randomText(rng, 80);
    default:
      break;
  }
  let s: string;
  switch (key) {
    case "telemetryMs":
    case "keepAliveS":
      return rng.bool() ? rng.pick([0, 99, 100, 65535, 65536, 86_400_000, 86_400_001]) : rng.pick(["100", " 60 ", "-0", "1e3", "0x10", "60\n"]);
    case "broker":
      s = rng.pick(["mqtt://127.0.0.1:1883", "mqtts://h", "mqtt://[::1]:1/", "mqtt://h:0", "mqtt://u@h"]);
      break;
    case "coapObserve": {
      const list = Array.from({ length: rng.size(5) }, () => rng.pick(["coap://h/a", "coap://h/a,b", "coaps://[::1]/x?y=1", "coap://h/a b", "coap://h"]));
      return rng.bool() ? list : list.join(rng.pick([" ", ",", ", ", "\n"]));
    }
    case "otaKey":
      s = "04" + hex(rng.bytes(64));
      break;
    case "clientId":
    case "prefix":
      s = rng.pick(["mote", "a/b", "dev-1", "x".repeat(64), "$sys", "a//b", "/a"]);
      break;
    default:
      s = rng.pick(["mote-sim", "x".repeat(32), "x".repeat(33), "p@ss word", ""]);
  }
  return rng.bool(0.6) ? s : mutateText(rng, s, DICT, 2);
}

export function generateConfig(rng: Rng): ConfigInput {
  const key = rng.bool(0.92) ? rng.pick(KEYS) : rng.pick(ODD_KEYS);
  return { key, value: valueFor(rng, key) };
}

export const configTarget: FuzzTarget<ConfigInput> = {
  name: "config",
  description: "configuration key/values (every key at and past its bounds, odd keys, any JSON shape, bytes): value or ConfigError; accepted values survive store+reload; buildConfig never throws",
  generate: generateConfig,
  show: (i) => showValue(i),
  check({ key, value }) {
    let v;
    try {
      v = normalizeConfigValue(key, value);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const built = buildConfig({ [key]: value }, {}, "aa:bb:cc:dd:ee:ff");
      assert(built.config.clientId.length > 0, "buildConfig lost the default client id");
      return `error:${e.code}`;
    }
    if (v === undefined) return "ok:default";
    const stored = toStoredValue(key as ConfigKey, v);
    let again;
    try {
      again = normalizeConfigValue(key, stored);
    } catch (e) {
      throw new FuzzFailure(`value accepted once is refused at the next boot: ${showValue(value)} stored as ${showValue(stored)}: ${String(e)}`);
    }
    assert(deepEqual(again, v), `stored value reloads differently: ${showValue(v)} -> ${showValue(stored)} -> ${showValue(again)}`);
    const built = buildConfig({}, { [key]: stored as never }, "aa:bb:cc:dd:ee:ff");
    assert(built.problems.length === 0, `buildConfig refuses a stored value that was accepted: ${built.problems.map(String).join("; ")}`);
    return "ok:value";
  },
};

// ---------------------------------------------------------------- cmd/... messages

export interface CommandInput {
  topic: string;
  payload: Uint8Array;
  responseTopic?: string;
}

const TOPICS = topicsFor("mote", "mote-aabbccddeeff");

export const commandTarget: FuzzTarget<CommandInput> = {
  name: "app-command",
  description: "MQTT cmd/<name> messages to the device program (JSON payloads of any shape, bad UTF-8, odd topics): Command or CommandError, never a throw",
  generate(rng) {
    const name = rng.pick(["ping", "reboot", "config", "coap", "ota", "signed", "x", "", "ping/x", "config/"]);
    const topic = rng.bool(0.9) ? `${TOPICS.base}/cmd/${name}` : randomText(rng, 30);
    const body: Record<string, unknown> = {};
    if (rng.bool()) body.responseTopic = rng.pick(["a/b", "a/+", "", "#", "x".repeat(300), 5]);
    if (rng.bool()) body.uri = rng.pick(["coap://h/x", "coap://h", "http://h", 5, "coap://h/" + "x".repeat(300)]);
    if (rng.bool()) body.observe = rng.pick([true, false, "yes"]);
    if (rng.bool()) body.reboot = rng.pick([true, "no"]);
    if (rng.bool()) body[rng.pick(KEYS)] = valueFor(rng, "ssid");
    let payload = encodeUtf8(rng.bool(0.9) ? JSON.stringify(body) : rng.pick(["[]", "null", "1", '"x"', "{", "", "{}"]));
    if (rng.bool(0.2)) payload = mutateBytes(rng, payload, 3);
    if (rng.bool(0.02)) payload = new Uint8Array(5000);
    const input: CommandInput = { topic, payload };
    if (rng.bool(0.2)) input.responseTopic = rng.pick(["r/t", "r/+", ""]);
    return input;
  },
  show: (i) => showValue(i),
  check(input) {
    const r = parseCommand(TOPICS, input.topic, input.payload, input.responseTopic);
    if (r instanceof CommandError) return `error:${r.code}`;
    assert(typeof r.kind === "string", "command without kind");
    if (r.kind === "config") {
      // the values go through the validator next: it must give a value or ConfigError for each
      for (const [k, v] of Object.entries(r.values)) {
        try {
          normalizeConfigValue(k, v);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
        }
      }
    }
    return `ok:${r.kind}`;
  },
};
