/**
 * `mote` — the desktop face of mote (DESIGN.md §7). Dispatches to a group
 * module cli/<group>.ts that exports `main(argv): Promise<number> | number`
 * (argv = the words after the group name; returns the exit status).
 *
 *   mote tcp|udp ...          raw sockets, nc-like        (cli/tcp.ts, cli/udp.ts)
 *   mote mqtt pub|sub ...     (cli/mqtt.ts)
 *   mote coap get|... ...     (cli/coap.ts)
 *   mote ota ...              (cli/ota.ts)
 *   mote sim                  the simulator               (cli/sim.ts)
 *   mote init DIR             a project of your own       (cli/init.ts)
 *   mote app build|lin        your app for mcconfig       (cli/app.ts)
 * A group whose module does not exist yet prints "not available yet", status 2.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { loadGroup } from "./registry.js";
import { errorLine } from "./engine.js";

export const GROUPS = ["tcp", "udp", "mqtt", "coap", "ota", "sim", "init", "app"] as const;

export const USAGE = `usage: mote <command> [options]
  mote tcp listen PORT [--echo] [--address ADDR]    TCP server, like nc -l
  mote tcp connect HOST PORT                        TCP client, stdin -> socket -> stdout
  mote udp listen PORT                              print datagrams
  mote udp send HOST PORT MESSAGE                   send one datagram
  mote mqtt pub|sub ...                             MQTT client (mosquitto_pub/sub-like)
  mote coap get|post|put|delete|observe|discover|serve ...
  mote ota keygen|pack|verify|serve|deploy|rotate|sign-config ...
  mote sim                                          the device program in the simulator
  mote init DIR                                     a project of your own on mote (docs/cookbook.md)
  mote app build|lin ...                            build your app for Moddable (mcconfig)

Network commands take --engine node|xs|moddable (default node): xs runs the same
code inside the XS engine, moddable on Moddable's own runtime (mcconfig -p lin).
Exit status 0 on success; failures print one line.`;
export interface MainIO {
  out(text: string): void;
  err(text: string): void;
}

const processIO: MainIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

export async function main(argv: string[], io: MainIO = processIO): Promise<number> {
  const [group, ...rest] = argv;
  if (group === undefined || group === "help" || group === "--help" || group === "-?") {
    (group === undefined ? io.err : io.out)(USAGE + "\n");
    return group === undefined ? 2 : 0;
  }
  if (!(GROUPS as readonly string[]).includes(group)) {
    io.err(`mote: usage: unknown command "${group}" (try mote help)\n`);
    return 2;
  }
  const mod = await loadGroup(group);
  if (mod === undefined) {
    io.err(`mote: unavailable: "mote ${group}" is not available yet\n`);
    return 2;
  }
  try {
    return await mod.main(rest);
  } catch (e) {
    io.err(errorLine(e) + "\n");
    return (e as { code?: unknown }).code === "usage" ? 2 : 1;
  }
}

/** Writes what is pending on stdout/stderr, then exits. */
async function exitWith(code: number): Promise<never> {
  await Promise.all(
    [process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => (s.writableLength === 0 ? resolve() : s.write("", () => resolve())))),
  );
  process.exit(code);
}

/** Run when this file itself is the program (node dist/node/cli.mjs ...); bin/mote.mjs calls main() instead. */
function isEntry(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then(exitWith, async (e) => {
    process.stderr.write(errorLine(e) + "\n");
    await exitWith(1);
  });
}
