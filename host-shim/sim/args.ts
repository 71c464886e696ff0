/** Arguments of `mote sim` (cli/sim.ts). */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseFault, type ScheduledFault } from "./faults.js";

export interface Args {
  /** One broker URL, or several joined by commas (from a comma list or a repeated --broker). */
  broker?: string;
  /** Fleet name the device ids are drawn from (simulation.ts macFor). */
  fleet?: string;
  brokerPort?: number;
  coap?: string;
  state?: string;
  devices: number;
  telemetryMs?: number;
  faults: ScheduledFault[];
  forSeconds?: number;
  json: boolean;
  help: boolean;
  /** File with the OTA signing public key (PEM or hex): OTA mode. */
  otaKey?: string;
  /** Entry file of the user's own app (host-shim/sim/app.ts) instead of the default program. */
  app?: string;
  /** Serve the live fleet view (host-shim/sim/view.ts) on 127.0.0.1 at this port (0: a free one). */
  view?: number;
  /** xs: the bundle on xsnap with simulated hardware (default); moddable: the program mcconfig links, on Moddable's runtime (host-shim/sim/moddable.ts). */
  engine: "xs" | "moddable";
}

export class UsageError extends Error {
  readonly code = "usage" as const;
}

export function parseSimArgs(argv: readonly string[]): Args {
  const args: Args = { devices: 1, faults: [], json: false, help: false, engine: "xs" };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  const int = (text: string, flag: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer ${min}..${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith("--") && a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    const take = (): string => {
      if (inline !== undefined) return inline;
      const v = value(i, flag);
      i++;
      return v;
    };
    switch (flag) {
      case "--broker": {
        // repeatable, and each value may be a comma list: together one broker list, in order
        const list = take().split(",").map((u) => u.trim());
        for (const u of list)
          if (!/^mqtt:\/\/([^@/\s]*@)?[^/:@\s]+(:\d+)?\/?$/.test(u)) throw new UsageError("--broker must be mqtt://[user:pass@]host[:port] (several: comma-separated or repeated)");
        args.broker = args.broker === undefined ? list.join(",") : `${args.broker},${list.join(",")}`;
        if (args.broker.split(",").length > 8) throw new UsageError("--broker: at most 8 brokers");
        break;
      }
      case "--fleet": {
        const v = take();
        if (!/^[A-Za-z0-9._-]{1,64}$/.test(v)) throw new UsageError("--fleet must be 1..64 of A-Z a-z 0-9 . _ -");
        args.fleet = v;
        break;
      }
      case "--coap": {
        const v = take();
        if (!/^coap:\/\/[^/:]+(:\d+)?\/?$/.test(v)) throw new UsageError("--coap must be coap://host[:port]");
        args.coap = v;
        break;
      }
      case "--broker-port":
        args.brokerPort = int(take(), flag, 1, 65535);
        break;
      case "--state":
        args.state = take();
        break;
      case "--devices":
        args.devices = int(take(), flag, 1, 500);
        break;
      case "--telemetry":
        args.telemetryMs = int(take(), flag, 100, 86_400_000);
        break;
      case "--for":
        args.forSeconds = Number(take());
        if (!(args.forSeconds > 0 && args.forSeconds <= 7 * 86400)) throw new UsageError("--for must be a number of seconds > 0");
        break;
      case "--fault":
        args.faults.push(parseFault(take()));
        break;
      case "--ota-key":
        args.otaKey = take();
        break;
      case "--app":
        args.app = take();
        break;
      case "--json":
        args.json = true;
        break;
      case "--engine": {
        const v = take();
        if (v !== "xs" && v !== "moddable") throw new UsageError("--engine must be xs or moddable");
        args.engine = v;
        break;
      }
      case "--view":
        // --view [PORT]: the port is optional (0 = a free one)
        if (inline !== undefined) args.view = int(inline, flag, 0, 65535);
        else if (argv[i + 1] !== undefined && /^\d+$/.test(argv[i + 1])) args.view = int(argv[++i], flag, 0, 65535);
        else args.view = 0;
        break;
      case "-h":
      case "--help":
        args.help = true;
        break;
      default:
        throw new UsageError(`unknown option ${a}`);
    }
  }
  return args;
}

/**
 * The fleet name a state folder keeps: read from `<dir>/fleet`, or `fresh`
 * written there at the folder's first run. With it `mote sim --state DIR`
 * boots the same devices every run — the same MACs, client ids, preferences
 * and flash (an OTA update installed in one run boots in the next) — while two
 * folders still draw different ids.
 */
export function stateFleet(dir: string, fresh: string): string {
  const file = join(dir, "fleet");
  try {
    const kept = readFileSync(file, "utf8").trim();
    if (kept.length > 0 && kept.length <= 64) return kept;
  } catch {
    // first run in this folder
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${fresh}\n`);
  return fresh;
}
