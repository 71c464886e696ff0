/**
 * What every `mote ota` subcommand shares: the parsed command line
 * (`OtaArgs`: positionals and repeatable `--flag value` / `--flag=value`)
 * and the two output lines (`OtaCliIO`). cli/ota.ts dispatches on the
 * subcommand; cli/ota-deploy.ts takes the same arguments. Both import this
 * module, so neither imports the other for its types (no import cycle).
 */
import { UsageError } from "./args.js";

export interface OtaCliIO {
  out(line: string): void;
  err(line: string): void;
}

export interface OtaArgs {
  positional: string[];
  flags: Map<string, string[]>;
}

/** Flags that take no value (`--json`, not `--json true`). */
const BOOLEAN_FLAGS = new Set(["ignore-range", "all", "help", "force", "reboot", "json"]);

export function parseArgs(argv: string[]): OtaArgs {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      let name = a.slice(2);
      let value: string | undefined;
      const eq = name.indexOf("=");
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      } else if (BOOLEAN_FLAGS.has(name)) value = "true";
      else {
        value = argv[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value`);
      }
      flags.set(name, [...(flags.get(name) ?? []), value]);
    } else positional.push(a);
  }
  return { positional, flags };
}
