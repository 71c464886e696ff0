/**
 * A small getopt-style argument parser for `mote` subcommands.
 *
 *   -h HOST   -hHOST          short option with a value
 *   -v        -vx             short flags (may be grouped)
 *   --name value  --name=value  long option with a value
 *   --flag                    long flag
 *   --                        everything after is positional
 * Options and positionals may be mixed. A repeatable option collects every
 * value in an array. Bad usage throws `UsageError` (code "usage").
 */
import { MoteError } from "../src/errors.js";

export class UsageError extends MoteError<"usage"> {
  constructor(message: string) {
    super("usage", message);
    this.name = "UsageError";
  }
}

export interface OptionSpec {
  /** One-letter alias, e.g. "h" for -h. */
  short?: string;
  /** The option takes a value (else it is a boolean flag). */
  value?: boolean;
  /** Collect every occurrence (values as string[]). */
  repeat?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface ParsedArgs {
  /** Long name -> value: string for value options, true for flags, string[] for repeatable ones. */
  options: Record<string, string | boolean | string[]>;
  positional: string[];
}

export function parseArgs(argv: readonly string[], specs: OptionSpecs): ParsedArgs {
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short !== undefined) byShort.set(spec.short, name);
  // No prototype: an option named like an Object.prototype member ("toString")
  // must start out absent, not as the inherited function.
  const options: ParsedArgs["options"] = Object.create(null) as ParsedArgs["options"];
  const positional: string[] = [];

  const put = (name: string, value: string | true) => {
    const spec = specs[name];
    if (spec.repeat) {
      const list = (options[name] as string[] | undefined) ?? [];
      list.push(String(value));
      options[name] = list;
    } else options[name] = value;
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const spec = Object.prototype.hasOwnProperty.call(specs, name) ? specs[name] : undefined;
      if (spec === undefined) throw new UsageError(`unknown option --${name}`);
      if (spec.value) {
        let v: string | undefined;
        if (eq >= 0) v = a.slice(eq + 1);
        else if (i + 1 < argv.length) v = argv[++i];
        if (v === undefined) throw new UsageError(`option --${name} needs a value`);
        put(name, v);
      } else {
        if (eq >= 0) throw new UsageError(`option --${name} takes no value`);
        put(name, true);
      }
      continue;
    }
    if (a.startsWith("-") && a.length > 1 && !/^-\d/.test(a)) {
      for (let k = 1; k < a.length; k++) {
        const name = byShort.get(a[k]);
        if (name === undefined) throw new UsageError(`unknown option -${a[k]}`);
        if (specs[name].value) {
          let v: string | undefined = a.slice(k + 1);
          if (v === "") v = i + 1 < argv.length ? argv[++i] : undefined;
          if (v === undefined) throw new UsageError(`option -${a[k]} needs a value`);
          put(name, v);
          break;
        }
        put(name, true);
      }
      continue;
    }
    positional.push(a);
  }
  return { options, positional };
}

/**
 * The single value of `--name` in flags collected as name -> every value given
 * (`mote ota`'s parsers): undefined when absent (UsageError when `required`),
 * UsageError when given twice.
 */
export function oneFlag(p: { flags: Map<string, string[]> }, name: string, required: true): string;
export function oneFlag(p: { flags: Map<string, string[]> }, name: string, required?: boolean): string | undefined;
export function oneFlag(p: { flags: Map<string, string[]> }, name: string, required = false): string | undefined {
  const v = p.flags.get(name);
  if (v === undefined) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  if (v.length > 1) throw new UsageError(`--${name} given twice`);
  return v[0];
}

/** A port number from text, or UsageError. */
export function parsePort(text: string | undefined, what = "PORT"): number {
  if (text === undefined) throw new UsageError(`missing ${what}`);
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError(`${what} must be 0-65535, not "${text}"`);
  return Number(text);
}

/** The engine option shared by every network subcommand. */
export function parseEngine(value: string | boolean | string[] | undefined): "node" | "xs" | "moddable" {
  if (value === undefined) return "node";
  if (value === "node" || value === "xs" || value === "moddable") return value;
  throw new UsageError(`--engine must be node, xs or moddable, not "${String(value)}"`);
}

/** `--help` (or `-?`) anywhere before a `--`: the group prints its usage on stdout and exits 0. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === "--") return false;
    if (a === "--help" || a === "-?") return true;
  }
  return argv[0] === "help";
}
