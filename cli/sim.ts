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
  --json                      one JSON status object per second on stdout
  --view [PORT]               serve the live fleet view at http://127.0.0.1:PORT/ (default: a free port):
                              a row per device, a telemetry chart, fault buttons (docs/simulator.md)
  -h, --help

  keys (on a terminal): w WiFi drop · b broker restart · p power cut · l loss 30% on/off · q quit
`;

export { parseSimArgs };

export async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseSimArgs(argv);
  } catch (e) {
    const err = e as Error & { code?: string };
    process.stderr.write(`${errorLine({ code: err.code ?? "usage", message: err.message.replace(/^invalid-fault: /, "") })}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const out = process.stdout;
  const tty = out.isTTY === true && !args.json;
  const baselineRss = process.memoryUsage().rss;
  let drawn = 0;
  const print = (line: string) => {
    if (args.json) process.stderr.write(`${line}\n`);
    else if (tty) {
      clearBlock();
      out.write(`${line}\n`);
    } else out.write(`${line}\n`);
  };
  const clearBlock = () => {
    if (drawn > 0) out.write(`\x1b[${drawn}A\x1b[0J`);
    drawn = 0;
  };
  const started = Date.now();
  const stamp = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s`;

  let sim: Simulation;
  let otaKey: string | undefined;
  try {
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
    sim = await startSimulation({
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
        print(`broker  ${p.brokerUrl}${p.embeddedBroker ? " (embedded aedes)" : ""}`);
        print(`coap    ${p.coapUrl}${p.embeddedCoap ? " (embedded: /sensor observable, /large block-wise)" : ""}`);
        print(`updates ${p.updatesUrl}`);
        const m = /:(\d+)\/?$/.exec(p.brokerUrl);
        print(`watch:  npx mqtt sub -h 127.0.0.1 -p ${m?.[1] ?? 1883} -t 'mote/#' -v`);
        if (tty) print("keys: w WiFi drop · b broker restart · p power cut · l loss on/off · q quit");
      },
      onLog: (i, line) => {
        if (!args.json && args.devices <= 4) print(`${stamp()} [${i}] ${line}`);
      },
      onEvent: (i, e) => {
        if (e.type === "fault") {
          if (i === 0) print(`${stamp()} fault: ${e.fault}`);
        } else print(`${stamp()} [${i}] ${e.type}${"reason" in e ? ` (${e.reason})` : ""}${"message" in e ? `: ${e.message}` : ""}`);
      },
    });
  } catch (e) {
    const err = e as Error & { code?: string };
    process.stderr.write(`${errorLine(err)}\n`);
    return 1;
  }
  let view: FleetView | undefined;
  if (args.view !== undefined) {
    try {
      view = await startFleetView({ sim, port: args.view });
    } catch (e) {
      await sim.stop();
      process.stderr.write(`${errorLine({ code: "view-listen", message: `the fleet view cannot listen on 127.0.0.1:${args.view}: ${(e as Error).message}` })}\n`);
      return 1;
    }
    // the URL goes to stderr under --json, so stdout stays JSON lines
    print(`view    ${view.url}`);
  }
  let finished = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const finish = () => {
    if (!finished) {
      finished = true;
      resolveDone();
    }
  };

  // Output loop: status every second.
  let lastPlain = 0;
  const render = async () => {
    await sim.poll();
    const status = sim.status();
    if (args.json) {
      // node: the broker of the --broker list the device is on (its relay's target)
      out.write(`${JSON.stringify({ t: Date.now() - started, devices: status.map((s, i) => ({ ...statusJson(s), node: sim.nodeOf(i) })) })}\n`);
    } else if (tty) {
      clearBlock();
      const lines = status.slice(0, 20).map(statusLine);
      if (status.length > 20) lines.push(`… and ${status.length - 20} more (${status.filter(isHealthy).length} healthy)`);
      out.write(lines.join("\n") + "\n");
      drawn = lines.length;
    } else if (Date.now() - lastPlain >= 5000) {
      lastPlain = Date.now();
      for (const s of status.slice(0, 20)) out.write(`${stamp()} ${statusLine(s)}\n`);
    }
  };
  const ticker = setInterval(() => void render().catch(() => undefined), 1000);

  // Keyboard faults.
  const stdin = process.stdin;
  let loss = false;
  const onKey = (data: Buffer) => {
    const k = data.toString();
    if (k === "q" || k === "\u0003") finish();
    else if (k === "w") sim.faults.wifiDrop(3000);
    else if (k === "b") void sim.faults.brokerRestart(1000);
    else if (k === "p") void sim.faults.powerCut(1000);
    else if (k === "l") sim.faults.loss((loss = !loss) ? 0.3 : 0);
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
  await sim.poll().catch(() => undefined);
  const status = sim.status();
  const healthy = sim.healthy();
  const mem = memoryPerDevice(args.devices, baselineRss);
  await view?.close();
  await sim.stop();
  const summary = {
    healthy,
    devices: args.devices,
    healthyDevices: status.filter(isHealthy).length,
    memoryPerDeviceBytes: Math.round(mem.bytesPerDevice),
    xsHeapBytesMax: Math.max(0, ...status.map((s) => s.xsHeapPeakBytes)),
  };
  if (args.json) out.write(`${JSON.stringify({ summary })}\n`);
  else {
    clearBlock();
    for (const s of status.slice(0, 20)) out.write(`${statusLine(s)}\n`);
    out.write(
      `mote sim: ${summary.healthyDevices}/${summary.devices} healthy · host memory per device ${(summary.memoryPerDeviceBytes / 1048576).toFixed(1)} MB · xsnap heap peak ${(summary.xsHeapBytesMax / 1024).toFixed(0)} KB (not an ESP32 figure: docs/simulator.md)\n`,
    );
  }
  // --for: 0 iff healthy; interactive stop: 0.
  return args.forSeconds === undefined || healthy ? 0 : 1;
}
