/**
 * `mote udp listen PORT` / `mote udp send HOST PORT MESSAGE` — raw UDP, run
 * by the tasks udpListen / udpSend (cli/tasks/udp.ts) in the chosen engine.
 */
import { parseArgs, parseEngine, parsePort, UsageError, wantsHelp } from "./args.js";
import { runTask } from "./engine.js";

const USAGE = `usage: mote udp listen PORT [--address ADDR] [--count N] [--engine node|xs|moddable]
       mote udp send HOST PORT MESSAGE [--engine node|xs|moddable]`;

export async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const [sub, ...rest] = argv;
  const { options, positional } = parseArgs(rest, {
    engine: { short: "e", value: true },
    address: { short: "a", value: true },
    count: { short: "c", value: true },
  });
  const engine = parseEngine(options.engine);
  switch (sub) {
    case "listen": {
      if (positional.length !== 1) throw new UsageError(`udp listen takes PORT\n${USAGE}`);
      const port = parsePort(positional[0]);
      const count = options.count === undefined ? undefined : Number(options.count);
      if (count !== undefined && !(Number.isInteger(count) && count > 0)) throw new UsageError("--count must be a positive integer");
      return runTask("udpListen", { port, address: options.address as string | undefined, count }, { engine });
    }
    case "send": {
      if (positional.length !== 3) throw new UsageError(`udp send takes HOST PORT MESSAGE\n${USAGE}`);
      const port = parsePort(positional[1]);
      return runTask("udpSend", { host: positional[0], port, message: positional[2] }, { engine });
    }
    default:
      throw new UsageError(`udp needs listen or send\n${USAGE}`);
  }
}
