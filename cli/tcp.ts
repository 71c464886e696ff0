/**
 * `mote tcp listen PORT` / `mote tcp connect HOST PORT` — nc-like raw TCP,
 * run by the tasks tcpListen / tcpConnect (cli/tasks/tcp.ts) in the chosen engine.
 */
import { parseArgs, parseEngine, parsePort, UsageError, wantsHelp } from "./args.js";
import { runTask } from "./engine.js";

const USAGE = `usage: mote tcp listen PORT [--echo] [--address ADDR] [--engine node|xs|moddable]
       mote tcp connect HOST PORT [--timeout MS] [--engine node|xs|moddable]`;

export async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const [sub, ...rest] = argv;
  const { options, positional } = parseArgs(rest, {
    engine: { short: "e", value: true },
    echo: {},
    address: { short: "a", value: true },
    timeout: { short: "t", value: true },
  });
  const engine = parseEngine(options.engine);
  switch (sub) {
    case "listen": {
      if (positional.length !== 1) throw new UsageError(`tcp listen takes PORT\n${USAGE}`);
      const port = parsePort(positional[0]);
      return runTask("tcpListen", { port, echo: options.echo === true, address: options.address as string | undefined }, { engine });
    }
    case "connect": {
      if (positional.length !== 2) throw new UsageError(`tcp connect takes HOST PORT\n${USAGE}`);
      const port = parsePort(positional[1]);
      const timeoutMs = options.timeout === undefined ? undefined : Number(options.timeout);
      if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new UsageError("--timeout must be a positive number of ms");
      return runTask("tcpConnect", { host: positional[0], port, timeoutMs }, { engine });
    }
    default:
      throw new UsageError(`tcp needs listen or connect\n${USAGE}`);
  }
}
