/**
 * The live fleet view: a small HTTP server on 127.0.0.1 that serves one page
 * (host-shim/sim/view-page.ts, everything inline: no outside asset) and feeds it.
 *
 *   GET  /               the page
 *   GET  /api/status     one snapshot (JSON, the shape below)
 *   GET  /api/events     Server-Sent Events: an `event: status` with a snapshot
 *                        every `periodMs` (WHATWG HTML, "Server-sent events")
 *   POST /api/fault      {"kind":"wifi-drop"|"broker-restart"|"power-cut"|"loss",
 *                         "ms"?: number, "device"?: number, "rate"?: number}
 *                        → 202 {"ok":true}; bad input → 400 {"error":{"code":…}}
 *
 * Sources: a simulation (rows, faults) and/or rollout progress that whoever
 * runs a rollout publishes with `publishRollout()` (cli/rollout.ts's
 * RolloutSnapshot fits: version, state, stage, devices with phase/detail).
 * Bounds: 16 event streams at once (the 17th gets 503), request bodies of 1 KB,
 * snapshots of at most 500 rows (the simulator's own limit).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { SimDeviceStatus } from "./device.js";
import { heapText } from "./display.js";
import type { SimulationFaults } from "./simulation.js";
import { FLEET_VIEW_PAGE } from "./view-page.js";

/** What the view reads from a running simulation (a `Simulation` fits). */
export interface FleetViewSimulation {
  status(): SimDeviceStatus[];
  nodeOf(index: number): string | undefined;
  readonly faults: SimulationFaults;
  /** The active flash slot of device `index`, when the simulator knows it. */
  slotOf?(index: number): string | undefined;
}

/** Rollout progress as the page shows it; cli/rollout.ts's RolloutSnapshot is one. */
export interface FleetViewRollout {
  readonly version: string;
  readonly state: string;
  readonly stage: number;
  readonly devices: readonly { readonly id: string; readonly phase: string; readonly stage: number; readonly detail: string; readonly code?: string }[];
}

/** One row of the page. */
export interface FleetViewRow {
  index: number;
  name: string;
  id: string | undefined;
  state: string;
  healthy: boolean;
  wifi: string;
  rssi: number | undefined;
  mqtt: string;
  node: string | undefined;
  version: string | undefined;
  slot: string | undefined;
  heapBytes: number | undefined;
  /** The heap as the status line gives it: `esp32 slots≈52K` (estimate) or `xsnap heap 412K` (display.ts heapText). */
  heap: string;
  queueDepth: number | undefined;
  msgsIn: number;
  msgsOut: number;
  msgsDropped: number;
  boots: number;
  uptimeMs: number | undefined;
}

export interface FleetViewSnapshot {
  t: number;
  devices: FleetViewRow[];
  /** Faults the page may ask for (none without a simulation). */
  faults: string[];
  rollout: FleetViewRollout | undefined;
  /** Recent fault and rollout lines, newest last (at most 50). */
  events: string[];
}

export interface FleetViewOptions {
  sim?: FleetViewSimulation;
  /** 0 or undefined: a free port. */
  port?: number;
  /** Snapshot period of the event stream, ms (default 1000). */
  periodMs?: number;
}

export interface FleetView {
  readonly url: string;
  readonly port: number;
  publishRollout(rollout: FleetViewRollout): void;
  /** A line for the page's event list (faults are added by the view itself). */
  note(line: string): void;
  snapshot(): FleetViewSnapshot;
  close(): Promise<void>;
}

export const FAULT_KINDS = Object.freeze(["wifi-drop", "broker-restart", "power-cut", "loss"] as const);
export type FaultKind = (typeof FAULT_KINDS)[number];

const MAX_STREAMS = 16;
const MAX_BODY = 1024;
const MAX_ROWS = 500;
const MAX_EVENTS = 50;

export class FaultRequestError extends Error {
  constructor(
    readonly code: "bad-json" | "bad-fault" | "bad-device" | "bad-duration" | "bad-rate" | "no-simulation" | "body-too-large",
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** A fault request, checked: the kind is known, numbers are in range. */
export interface FaultRequest {
  kind: FaultKind;
  ms?: number;
  device?: number;
  rate?: number;
}

export function parseFaultRequest(body: string, devices: number): FaultRequest {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw new FaultRequestError("bad-json", "the body is not JSON");
  }
  if (typeof v !== "object" || v === null) throw new FaultRequestError("bad-json", "the body is not an object");
  const o = v as Record<string, unknown>;
  if (!FAULT_KINDS.includes(o.kind as FaultKind)) throw new FaultRequestError("bad-fault", `kind must be one of ${FAULT_KINDS.join(", ")}`);
  const r: FaultRequest = { kind: o.kind as FaultKind };
  if (o.ms !== undefined) {
    if (typeof o.ms !== "number" || !Number.isInteger(o.ms) || o.ms < 0 || o.ms > 600_000) throw new FaultRequestError("bad-duration", "ms must be an integer 0..600000");
    r.ms = o.ms;
  }
  if (o.device !== undefined) {
    if (typeof o.device !== "number" || !Number.isInteger(o.device) || o.device < 0 || o.device >= devices) throw new FaultRequestError("bad-device", `device must be 0..${devices - 1}`);
    r.device = o.device;
  }
  if (o.rate !== undefined) {
    if (typeof o.rate !== "number" || !(o.rate >= 0 && o.rate <= 1)) throw new FaultRequestError("bad-rate", "rate must be 0..1");
    r.rate = o.rate;
  }
  if (r.kind === "loss" && r.rate === undefined) throw new FaultRequestError("bad-rate", "loss needs a rate");
  return r;
}

export function rowOf(s: SimDeviceStatus, node: string | undefined, slot: string | undefined): FleetViewRow {
  const d = s.device;
  return {
    index: s.index,
    name: s.name,
    id: d?.id,
    state: s.state,
    healthy: d?.healthy ?? false,
    wifi: d === undefined ? "-" : `${d.wifi.state}${d.wifi.reason !== undefined ? `(${d.wifi.reason})` : ""}`,
    rssi: d?.wifi.rssi,
    mqtt: d === undefined ? "-" : `${d.mqtt.state}${d.mqtt.reason !== undefined && d.mqtt.state !== "connected" ? `(${d.mqtt.reason})` : ""}`,
    node,
    version: d?.version,
    slot,
    heapBytes: s.xsHeapBytes,
    heap: heapText(s),
    queueDepth: d?.queueDepth,
    msgsIn: d?.counters.msgsIn ?? 0,
    msgsOut: d?.counters.msgsOut ?? 0,
    msgsDropped: d?.counters.msgsDropped ?? 0,
    boots: s.boots,
    uptimeMs: d?.uptimeMs,
  };
}

export async function startFleetView(options: FleetViewOptions = {}): Promise<FleetView> {
  const sim = options.sim;
  let rollout: FleetViewRollout | undefined;
  const events: string[] = [];
  const started = Date.now();
  const note = (line: string) => {
    events.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${line}`);
    if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
  };
  const snapshot = (): FleetViewSnapshot => ({
    t: Date.now(),
    devices: (sim?.status() ?? []).slice(0, MAX_ROWS).map((s, i) => rowOf(s, sim!.nodeOf(i), sim!.slotOf?.(i))),
    faults: sim === undefined ? [] : [...FAULT_KINDS],
    rollout,
    events: [...events],
  });

  const streams = new Set<ServerResponse>();
  const send = (res: ServerResponse, data: unknown) => res.write(`event: status\ndata: ${JSON.stringify(data)}\n\n`);
  const ticker = setInterval(() => {
    if (streams.size === 0) return;
    const s = snapshot();
    for (const res of streams) send(res, s);
  }, options.periodMs ?? 1000);

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  };

  const runFault = async (f: FaultRequest) => {
    const faults = sim!.faults;
    const who = f.device === undefined ? "all devices" : `device ${f.device}`;
    if (f.kind === "wifi-drop") {
      note(`fault: wifi drop ${f.ms ?? 3000} ms, ${who}`);
      faults.wifiDrop(f.ms ?? 3000, f.device);
    } else if (f.kind === "broker-restart") {
      note(`fault: broker restart ${f.ms ?? 1000} ms`);
      await faults.brokerRestart(f.ms ?? 1000);
    } else if (f.kind === "power-cut") {
      note(`fault: power cut ${f.ms ?? 1000} ms, ${who}`);
      await faults.powerCut(f.ms ?? 1000, f.device);
    } else {
      note(`fault: loss ${f.rate}`);
      faults.loss(f.rate!);
    }
  };

  const onFault = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        if (!refused) json(res, 413, { error: { code: "body-too-large", message: `at most ${MAX_BODY} bytes` } });
        refused = true;
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (refused) return;
      let f: FaultRequest;
      try {
        if (sim === undefined) throw new FaultRequestError("no-simulation", "this view has no simulator to fault");
        f = parseFaultRequest(Buffer.concat(chunks).toString("utf8"), sim.status().length);
      } catch (e) {
        const err = e as FaultRequestError;
        json(res, 400, { error: { code: err.code ?? "bad-json", message: err.message } });
        return;
      }
      // Accepted at once: a broker restart or a power cut takes its down time to end.
      json(res, 202, { ok: true, fault: f });
      runFault(f).catch((e: Error) => note(`fault ${f.kind} failed: ${e.message}`));
    });
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && (path === "/" || path === "/index.html")) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(FLEET_VIEW_PAGE);
    } else if (req.method === "GET" && path === "/api/status") json(res, 200, snapshot());
    else if (req.method === "GET" && path === "/api/events") {
      if (streams.size >= MAX_STREAMS) return json(res, 503, { error: { code: "too-many-streams", message: `at most ${MAX_STREAMS}` } });
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
      streams.add(res);
      send(res, snapshot());
      req.on("close", () => streams.delete(res));
    } else if (req.method === "POST" && path === "/api/fault") onFault(req, res);
    else json(res, 404, { error: { code: "not-found", message: `${req.method} ${path}` } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    publishRollout(r) {
      if (rollout === undefined || rollout.state !== r.state || rollout.stage !== r.stage) note(`rollout ${r.version}: ${r.state}, stage ${r.stage}`);
      rollout = r;
    },
    note,
    snapshot,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(ticker);
        for (const res of streams) res.end();
        streams.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
