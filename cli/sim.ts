/**
 * `mote sim` (= `npm start`): the device program on the XS engine, with embedded
 * peers, simulated hardware and faults. See docs/simulator.md.
 */
import { startSimulation, type Simulation } from "../host-shim/sim/simulation.js";
import { parseSimArgs, stateFleet, type Args } from "../host-shim/sim/args.js";
import { statusJson, statusLine } from "../host-shim/sim/display.js";
import { memoryPerDevice } from "../host-shim/sim/memory.js";
import { readFileSync } from "node:fs";
import { errorLine } from "./tasks/types.js";
import { join } from "node:path";
import { hostname } from "node:os";
import { isHealthy } from "../host-shim/sim/device.js";
import { bundleApp } from "../host-shim/sim/app.js";
import { startFleetView, type FleetView } from "../host-shim/sim/view.js";
import { ensureLiteXsnap } from "../host-shim/xs/xsnap-lite.js";
import { moddableRefusal, moddableStatusLine, startModdableSimulation, type ModdableSimulation } from "../host-shim/sim/moddable.js";

const HELP = `mote sim — run the device program on the XS engine with simulated hardware

  mote sim [options]

  --broker mqtt://[USER:PASS@]HOST:PORT
                              use this broker (default: embedded aedes); several (comma-separated
                              or --broker repeated) are a list: device i starts on broker i mod n
                              and fails over to the next ones
  --fleet NAME                fleet name the device ids are drawn from: simulators with different
                              names never share a client id (default: host name and process id)
  --broker-port PORT          port of the embedded broker (default: a free one)
  --coap coap://HOST:PORT     use this CoAP server (default: embedded, /sensor and /large)
  --state DIR                 preferences and flash of the devices (default .state/sim)
  --devices N                 run N devices with distinct ids (default 1)
  --telemetry MS              telemetry period (default 5000 in the simulator; the program alone: 60000)
  --fault SPEC                wifi-drop@10s[+5s], broker-restart@20s[+2s], power-cut@30s[+1s], loss=0.3[@10s]
                              (repeatable)
  --app FILE                  run your own app (its entry, e.g. src/main.ts of a \`mote init\` project)
                              instead of the default program; it reads ssid, password, broker, coap
  --ota-key FILE              OTA mode: the device takes cmd/ota updates signed for this public key
                              (PEM, as \`mote ota keygen\` writes it) and boots from its active flash slot
  --for SECONDS               stop after SECONDS; exit 0 iff every device ended healthy
  --engine xs|moddable        xs (default): the bundle on the XS engine (xsnap) with simulated hardware;
                              moddable: the program mcconfig links for a board, built for and run on
                              Moddable's own runtime (needs the SDK: README), one device, its heap as
                              Moddable counts it; the same faults
  --json                      one JSON status object per second on stdout
  --view [PORT]               serve the live fleet view at http://127.0.0.1:PORT/ (default: a free port):
                              a row per device, a telemetry chart, fault buttons (docs/simulator.md)
  -h, --help

  keys (on a terminal): w WiFi drop · b broker restart · p power cut · l loss 30% on/off · q quit
`;

export { parseSimArgs };

/** The terminal (or pipe) the simulator writes to: log lines, and a status block redrawn in place on a terminal. */
class Screen {
  readonly out = process.stdout;
  readonly tty: boolean;
  readonly #json: boolean;
  #drawn = 0;
  readonly #started = Date.now();
  constructor(json: boolean) {
    this.#json = json;
    this.tty = this.out.isTTY === true && !json;
  }
  get elapsedMs(): number {
    return Date.now() - this.#started;
  }
  stamp(): string {
    return `${(this.elapsedMs / 1000).toFixed(1).padStart(6)}s`;
  }
  /** A log line (stderr under --json, so stdout stays JSON lines). */
  print(line: string): void {
    if (this.#json) process.stderr.write(`${line}\n`);
    else {
      this.clear();
      this.out.write(`${line}\n`);
    }
  }
  /** The status block: redrawn in place on a terminal. */
  block(lines: readonly string[]): void {
    this.clear();
    this.out.write(lines.join("\n") + "\n");
    this.#drawn = lines.length;
  }
  clear(): void {
    if (this.#drawn > 0) this.out.write(`\x1b[${this.#drawn}A\x1b[0J`);
    this.#drawn = 0;
  }
}

/** What the output loop needs of a running simulation, whichever engine runs it. */
interface Running {
  poll(): Promise<void>;
  /** Status lines of the devices (at most 20 and a summary line). */
  lines(): string[];
  /** The --json record of a second (without `t`). */
  record(): Record<string, unknown>;
  keys: Record<string, () => void>;
  /** After the last poll: whether every device ended healthy, the --json summary and its text line. */
  summary(): { healthy: boolean; json: Record<string, unknown>; text: string };
  stop(): Promise<void>;
}

export async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseSimArgs(argv);
    const refused = args.engine === "moddable" ? moddableRefusal(args) : undefined;
    if (refused !== undefined) throw Object.assign(new Error(refused), { code: "usage" });
  } catch (e) {
    const err = e as Error & { code?: string };
    process.stderr.write(`${errorLine({ code: err.code ?? "usage", message: err.message.replace(/^invalid-fault: /, "") })}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const screen = new Screen(args.json);
  let running: Running;
  try {
    running = args.engine === "moddable" ? await startOnModdable(args, screen) : await startOnXs(args, screen);
  } catch (e) {
    const err = e as Error & { code?: string };
    process.stderr.write(`${errorLine(err)}\n`);
    return 1;
  }
  return loop(args, screen, running);
}

async function startOnXs(args: Args, screen: Screen): Promise<Running> {
  const print = (line: string) => screen.print(line);
  const baselineRss = process.memoryUsage().rss;
  let otaKey: string | undefined;
  if (args.otaKey !== undefined) otaKey = readFileSync(args.otaKey, "utf8");
  if (!args.json) print(`mote sim: starting ${args.devices} device(s) on XS…`);
  const app = args.app === undefined ? undefined : await bundleApp(args.app);
  // A fleet runs on the small-heap XS worker (~7 MB a device instead of ~58), built here once.
  if (args.devices > 1 && process.platform === "linux") {
    try {
      await ensureLiteXsnap(print);
    } catch (e) {
      print(`mote sim: ${(e as Error).message}; the fleet runs on the stock XS worker (~58 MB per device)`);
    }
  }
  const sim: Simulation = await startSimulation({
    ...(app === undefined ? {} : { bundle: app, observeSensor: false, state: args.state ?? join(process.cwd(), ".state", "sim") }),
    devices: args.devices,
    broker: args.broker,
    // a state folder keeps its fleet (and so its devices) from run to run
    fleet: args.fleet ?? (args.state === undefined ? `${hostname()}-${process.pid}` : stateFleet(args.state, `${hostname()}-${process.pid}`)),
    brokerPort: args.brokerPort,
    coap: args.coap,
    ...(app === undefined ? { state: args.state } : {}),
    telemetryMs: args.telemetryMs ?? 5000,
    faults: args.faults,
    ota: otaKey === undefined ? undefined : { publicKey: otaKey },
    onPeers: (p) => {
      if (args.json) return;
      printPeers(screen, p.brokerUrl, p.embeddedBroker, p.coapUrl, p.embeddedCoap);
      print(`updates ${p.updatesUrl}`);
      if (screen.tty) print("keys: w WiFi drop · b broker restart · p power cut · l loss on/off · q quit");
    },
    onLog: (i, line) => {
      if (!args.json && args.devices <= 4) print(`${screen.stamp()} [${i}] ${line}`);
    },
    onEvent: (i, e) => {
      if (e.type === "fault") {
        if (i === 0) print(`${screen.stamp()} fault: ${e.fault}`);
      } else print(`${screen.stamp()} [${i}] ${e.type}${"reason" in e ? ` (${e.reason})` : ""}${"message" in e ? `: ${e.message}` : ""}`);
    },
  });
  let view: FleetView | undefined;
  if (args.view !== undefined) {
    try {
      view = await startFleetView({ sim, port: args.view });
    } catch (e) {
      await sim.stop();
      throw Object.assign(new Error(`the fleet view cannot listen on 127.0.0.1:${args.view}: ${(e as Error).message}`), { code: "view-listen" });
    }
    print(`view    ${view.url}`);
  }
  let loss = false;
  return {
    poll: () => sim.poll(),
    lines() {
      const status = sim.status();
      const lines = status.slice(0, 20).map(statusLine);
      if (status.length > 20) lines.push(`… and ${status.length - 20} more (${status.filter(isHealthy).length} healthy)`);
      return lines;
    },
    // node: the broker of the --broker list the device is on (its relay's target)
    record: () => ({ devices: sim.status().map((s, i) => ({ ...statusJson(s), node: sim.nodeOf(i) })) }),
    keys: {
      w: () => sim.faults.wifiDrop(3000),
      b: () => void sim.faults.brokerRestart(1000),
      p: () => void sim.faults.powerCut(1000),
      l: () => sim.faults.loss((loss = !loss) ? 0.3 : 0),
    },
    summary() {
      const status = sim.status();
      const mem = memoryPerDevice(args.devices, baselineRss);
      const json = {
        healthy: sim.healthy(),
        devices: args.devices,
        healthyDevices: status.filter(isHealthy).length,
        memoryPerDeviceBytes: Math.round(mem.bytesPerDevice),
        xsHeapBytesMax: Math.max(0, ...status.map((s) => s.xsHeapPeakBytes)),
      };
      const text = `mote sim: ${json.healthyDevices}/${json.devices} healthy · host memory per device ${(json.memoryPerDeviceBytes / 1048576).toFixed(1)} MB · xsnap heap peak ${(json.xsHeapBytesMax / 1024).toFixed(0)} KB (not an ESP32 figure: docs/simulator.md)`;
      return { healthy: json.healthy, json, text };
    },
    async stop() {
      await view?.close();
      await sim.stop();
    },
  };
}

function printPeers(screen: Screen, brokerUrl: string, embeddedBroker: boolean, coapUrl: string, embeddedCoap: boolean): void {
  screen.print(`broker  ${brokerUrl}${embeddedBroker ? " (embedded aedes)" : ""}`);
  screen.print(`coap    ${coapUrl}${embeddedCoap ? " (embedded: /sensor observable, /large block-wise)" : ""}`);
  const m = /:(\d+)\/?$/.exec(brokerUrl.split(",")[0]);
  screen.print(`watch:  npx mqtt sub -h 127.0.0.1 -p ${m?.[1] ?? 1883} -t 'mote/#' -v`);
}

async function startOnModdable(args: Args, screen: Screen): Promise<Running> {
  const print = (line: string) => screen.print(line);
  if (!args.json) print("mote sim: starting the device program on Moddable's runtime (mcconfig -p lin)…");
  const state = args.state ?? join(process.cwd(), ".state", "sim-moddable");
  const sim: ModdableSimulation = await startModdableSimulation({
    broker: args.broker,
    brokerPort: args.brokerPort,
    coap: args.coap,
    state,
    fleet: args.fleet ?? stateFleet(state, `${hostname()}-${process.pid}`),
    telemetryMs: args.telemetryMs ?? 5000,
    faults: args.faults,
    onPeers: (p) => {
      if (args.json) return;
      printPeers(screen, p.brokerUrl, p.embeddedBroker, p.coapUrl, p.embeddedCoap);
      if (screen.tty) print("keys: w WiFi drop · b broker restart · p power cut · l loss on/off · q quit");
    },
    onLog: (line) => {
      if (!args.json) print(`${screen.stamp()} [0] ${line}`);
    },
    onEvent: (line) => print(`${screen.stamp()} ${line}`),
  });
  let loss = false;
  return {
    poll: async () => undefined,
    lines: () => [moddableStatusLine(sim.status())],
    record: () => ({ engine: "moddable", devices: [sim.status()] }),
    keys: {
      w: () => sim.wifiDrop(3000),
      b: () => void sim.brokerRestart(1000).catch(() => undefined),
      p: () => void sim.powerCut(1000),
      l: () => sim.loss((loss = !loss) ? 0.3 : 0),
    },
    summary() {
      const s = sim.status();
      const json = { healthy: s.healthy, devices: 1, healthyDevices: s.healthy ? 1 : 0, engine: "moddable", esp32HeapUsedPeakBytes: s.heapUsedPeakBytes };
      const text = `mote sim: ${json.healthyDevices}/1 healthy · heap used peak ${(s.heapUsedPeakBytes / 1024).toFixed(0)} KB on the ESP32's terms (Moddable's runtime, slots ×16/32, garbage included; live heap: npm run bench -- moddable)`;
      return { healthy: s.healthy, json, text };
    },
    stop: () => sim.stop(),
  };
}

/** Status every second until --for, q, or a signal; then the summary. --for: exit 0 iff every device ended healthy. */
async function loop(args: Args, screen: Screen, running: Running): Promise<number> {
  const out = screen.out;
  let finished = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const finish = () => {
    if (!finished) {
      finished = true;
      resolveDone();
    }
  };

  let lastPlain = 0;
  const render = async () => {
    await running.poll();
    if (args.json) out.write(`${JSON.stringify({ t: screen.elapsedMs, ...running.record() })}\n`);
    else if (screen.tty) screen.block(running.lines());
    else if (Date.now() - lastPlain >= 5000) {
      lastPlain = Date.now();
      for (const l of running.lines()) out.write(`${screen.stamp()} ${l}\n`);
    }
  };
  const ticker = setInterval(() => void render().catch(() => undefined), 1000);

  // Keyboard faults.
  const stdin = process.stdin;
  const onKey = (data: Buffer) => {
    const k = data.toString();
    if (k === "q" || k === "\u0003") finish();
    else running.keys[k]?.();
  };
  if (stdin.isTTY && !args.json) {
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onKey);
  }
  const onSignal = () => finish();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const limit = args.forSeconds === undefined ? undefined : setTimeout(finish, args.forSeconds * 1000);

  await done;
  clearInterval(ticker);
  if (limit !== undefined) clearTimeout(limit);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  if (stdin.isTTY && !args.json) {
    stdin.off("data", onKey);
    stdin.setRawMode(false);
    stdin.pause();
  }
  await running.poll().catch(() => undefined);
  const lines = running.lines();
  const summary = running.summary();
  await running.stop();
  if (args.json) out.write(`${JSON.stringify({ summary: summary.json })}\n`);
  else {
    screen.clear();
    for (const l of lines) out.write(`${l}\n`);
    out.write(`${summary.text}\n`);
  }
  // --for: 0 iff healthy; interactive stop: 0.
  return args.forSeconds === undefined || summary.healthy ? 0 : 1;
}
