/**
 * `mote coap get|post|put|delete|fetch|patch|ipatch|observe|discover|serve` —
 * CoAP from the command line with libcoap coap-client's flags, run by the
 * tasks in cli/tasks/coap.ts in the chosen engine.
 *
 *   -m method   -e text   -f file (- = stdin)   -t content-format   -A accept
 *   -s seconds (observe)  -b block size  -N (NON)  -T token  -B seconds (timeout)
 *   -o file (write the response payload)   -p port (serve)   --engine node|xs|moddable
 */
import { createWriteStream, readFileSync } from "node:fs";
import { parseArgs, parseEngine, parsePort, UsageError, wantsHelp } from "./args.js";
import { runTask } from "./engine.js";

const USAGE = `usage: mote coap get|post|put|delete|fetch|patch|ipatch URL [-e TEXT | -f FILE] [-t FORMAT] [-A FORMAT]
                   [-b SIZE] [-N] [-T TOKEN] [-B SECONDS] [-o FILE] [--engine node|xs|moddable]
       mote coap URL -m METHOD ...                 (libcoap style)
       mote coap observe URL [-s SECONDS] ...
       mote coap discover coap://HOST[:PORT]
       mote coap serve [-p PORT] [--address ADDR] [-s SECONDS]`;

const METHODS = ["get", "post", "put", "delete", "fetch", "patch", "ipatch"];

export async function main(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const { options, positional } = parseArgs(argv, {
    method: { short: "m", value: true },
    payload: { short: "e", value: true },
    file: { short: "f", value: true },
    "content-format": { short: "t", value: true },
    accept: { short: "A", value: true },
    duration: { short: "s", value: true },
    block: { short: "b", value: true },
    non: { short: "N" },
    token: { short: "T", value: true },
    timeout: { short: "B", value: true },
    output: { short: "o", value: true },
    port: { short: "p", value: true },
    address: { short: "a", value: true },
    engine: { value: true },
    help: { short: "h" },
  });
  if (options.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const engine = parseEngine(options.engine);
  let [sub, ...rest] = positional;
  if (sub !== undefined && sub.startsWith("coap://")) {
    rest = [sub, ...rest];
    sub = typeof options.method === "string" ? options.method.toLowerCase() : "get";
    if (sub === "get" && options.duration !== undefined) sub = "observe"; // libcoap: -s observes
  }
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const num = (v: unknown, what: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`${what} must be a number, not "${String(v)}"`);
    return n;
  };
  let payload: Uint8Array | string | undefined = str(options.payload);
  const file = str(options.file);
  if (file !== undefined) payload = new Uint8Array(file === "-" ? readFileSync(0) : readFileSync(file));
  const common = {
    contentFormat: str(options["content-format"]),
    accept: str(options.accept),
    blockSize: num(options.block, "-b"),
    non: options.non === true ? true : undefined,
    token: str(options.token),
    timeout: num(options.timeout, "-B"),
  };
  const output = str(options.output);
  const stdio = output === undefined ? undefined : { stdin: process.stdin, stdout: createWriteStream(output), stderr: process.stderr };
  const run = async (task: string, args: Record<string, unknown>) => {
    const code = await runTask(task, args as never, { engine, stdio });
    if (stdio) await new Promise<void>((resolve) => (stdio.stdout as ReturnType<typeof createWriteStream>).end(() => resolve()));
    return code;
  };
  if (sub === undefined) throw new UsageError(USAGE);
  if (METHODS.includes(sub.toLowerCase())) {
    if (rest.length !== 1) throw new UsageError(`coap ${sub} takes one URL\n${USAGE}`);
    return run("coapRequest", { url: rest[0], method: sub.toUpperCase() === "IPATCH" ? "iPATCH" : sub.toUpperCase(), payload, ...common });
  }
  switch (sub) {
    case "observe":
      if (rest.length !== 1) throw new UsageError(`coap observe takes one URL\n${USAGE}`);
      return run("coapObserve", { url: rest[0], duration: num(options.duration, "-s"), ...common });
    case "discover":
      if (rest.length !== 1) throw new UsageError(`coap discover takes one URL\n${USAGE}`);
      return run("coapDiscover", { url: rest[0], ...common });
    case "serve":
      return run("coapServe", {
        port: options.port === undefined ? 5683 : parsePort(str(options.port)),
        address: str(options.address),
        duration: num(options.duration, "-s"),
      });
    default:
      throw new UsageError(`unknown coap command "${sub}"\n${USAGE}`);
  }
}
