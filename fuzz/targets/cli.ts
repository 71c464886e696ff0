/**
 * Command-line arguments: the getopt-style parser of the `mote` subcommands
 * (cli/args.ts parseArgs, parsePort, parseEngine), `mote ota`'s own parser
 * (cli/ota.ts parseArgs), and `mote sim`'s (host-shim/sim/args.ts
 * parseSimArgs with parseFault).
 *
 * Inputs: argv arrays of flag-aware tokens (short groups, `--name=value`,
 * `--`, missing values, negative numbers, unknown flags, prototype names) and
 * random strings, against a realistic spec table and random spec tables.
 *
 * Properties: a parse result or the parser's usage error (UsageError code
 * "usage" / FaultSpecError code "invalid-fault"), never another exception;
 * options only under declared names with the declared shape (string for
 * value options, true for flags, string[] for repeatable ones); every
 * argument after `--` is positional; ports are 0..65535.
 */
import { UsageError, parseArgs, parseEngine, parsePort, type OptionSpecs } from "../../cli/args.js";
import { parseArgs as parseOtaArgs } from "../../cli/ota.js";
import { parseSimArgs } from "../../host-shim/sim/args.js";
import { assert, showValue, type FuzzTarget, type Rng } from "../engine.js";
import { randomText } from "../mutators.js";

/** The option table of `mote mqtt` (cli/mqtt.ts), as data. */
const MQTT_SPECS: OptionSpecs = Object.freeze({
  host: { short: "h", value: true },
  port: { short: "p", value: true },
  topic: { short: "t", value: true, repeat: true },
  message: { short: "m", value: true },
  "null-message": { short: "n" },
  qos: { short: "q", value: true },
  retain: { short: "r" },
  verbose: { short: "v" },
  url: { short: "L", value: true },
  "will-retain": {},
  engine: { short: "e", value: true },
  help: {},
});

const TOKENS = Object.freeze([
  "-h", "-hlocalhost", "-p", "1883", "-t", "a/b", "-vr", "-rv", "-q", "-1", "-5", "-", "--", "--host", "--host=x", "--port=", "--topic",
  "--help", "--help=1", "--nope", "--__proto__", "--constructor", "--toString", "-x", "-vx", "--engine", "xs", "node", "--=", "---",
  "65535", "65536", "0", "00080", "", " ", "é", "-L", "mqtt://h/t", "--verbose=", "-nq1",
]);
const SIM_TOKENS = Object.freeze([
  "--broker", "mqtt://h:1", "mqtt://h/x", "--coap", "coap://h", "--broker-port", "0", "65535", "--state", "/tmp/x", "--devices", "500",
  "501", "1.5", "--telemetry", "99", "--for", "0", "1e9", "--fault", "wifi-drop@10s", "loss=0.3", "loss=1.1", "power-cut@1e3s",
  "broker-restart@5s+2s", "wifi-drop@99999999m", "--json", "-h", "--help", "--broker=mqtt://h", "--devices=", "--x",
]);

export interface CliInput {
  parser: "args" | "ota" | "sim" | "port";
  argv: string[];
  specs?: OptionSpecs;
}

function randomSpecs(rng: Rng): OptionSpecs {
  const specs: Record<string, { short?: string; value?: boolean; repeat?: boolean }> = {};
  const n = rng.size(6);
  for (let k = 0; k < n; k++) {
    // Object.prototype member names included on purpose (finding F3, fixed: options is a null-prototype object).
    const name = rng.pick(["a", "bb", "host", "x-y", "value", "", "toString", "constructor", "__proto__"]);
    specs[name] = { short: rng.bool() ? rng.pick(["a", "b", "h", "-", "1"]) : undefined, value: rng.bool(), repeat: rng.bool(0.3) };
  }
  return specs;
}

export function generateCli(rng: Rng): CliInput {
  const parser = rng.pick(["args", "args", "ota", "sim", "port"] as const);
  const n = rng.size(10);
  const argv: string[] = [];
  const words = parser === "sim" ? SIM_TOKENS : TOKENS;
  for (let k = 0; k < n; k++) argv.push(rng.bool(0.85) ? rng.pick(words) : randomText(rng, 12));
  const input: CliInput = { parser, argv };
  if (parser === "args") input.specs = rng.bool(0.7) ? MQTT_SPECS : randomSpecs(rng);
  return input;
}

function usage(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if ((e instanceof UsageError && code === "usage") || code === "usage" || code === "invalid-fault") return `error:${String(code)}`;
  // cli/ota.ts has its own UsageError class without a code
  // (bundlers may rename the class to UsageError2 and so on)
  if (e instanceof Error && /^UsageError\d*$/.test(e.constructor.name)) return "error:usage-uncoded";
  throw e;
}

export const cliTarget: FuzzTarget<CliInput> = {
  name: "cli-args",
  description: "CLI argv (flag groups, =values, --, missing values, unknown/prototype names) into cli/args, mote ota and mote sim parsers: result or usage error",
  generate: generateCli,
  show: (i) => showValue(i),
  check(input) {
    try {
      switch (input.parser) {
        case "args": {
          const specs = input.specs!;
          const r = parseArgs(input.argv, specs);
          for (const [name, v] of Object.entries(r.options)) {
            assert(Object.prototype.hasOwnProperty.call(specs, name), `option "${name}" not declared`);
            const spec = specs[name];
            if (spec.repeat) assert(Array.isArray(v) && v.every((x) => typeof x === "string"), `repeatable ${name} not a string list`);
            else if (spec.value) assert(typeof v === "string", `value option ${name} is ${typeof v}`);
            else assert(v === true, `flag ${name} is ${String(v)}`);
          }
          for (const [name, v] of Object.entries(r.options)) {
            if (!specs[name].value) continue; // flags (repeatable ones count as "true" strings)
            for (const x of Array.isArray(v) ? v : [v]) {
              if (typeof x === "string") assert(input.argv.some((a) => a.endsWith(x)), `value "${x}" is in no argument`);
            }
          }
          for (const p of r.positional) assert(input.argv.includes(p), `positional "${p}" is no argument`);
          parseEngine(r.options.engine);
          return "ok:args";
        }
        case "ota": {
          const r = parseOtaArgs(input.argv);
          assert(r.positional.length <= input.argv.length, "more positionals than arguments");
          return "ok:ota";
        }
        case "sim": {
          const r = parseSimArgs(input.argv);
          assert(Number.isInteger(r.devices) && r.devices >= 1 && r.devices <= 500, `devices ${r.devices}`);
          for (const f of r.faults) assert(Number.isFinite(f.atMs) && f.atMs >= 0, `fault time ${f.atMs}`);
          return "ok:sim";
        }
        case "port": {
          const p = parsePort(input.argv[0]);
          assert(Number.isInteger(p) && p >= 0 && p <= 65535, `port ${p}`);
          return "ok:port";
        }
      }
    } catch (e) {
      return usage(e);
    }
  },
};
