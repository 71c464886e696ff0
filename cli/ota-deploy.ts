/**
 * `mote ota deploy`: a staged rollout of one signed descriptor (docs/ota.md).
 *
 *   mote ota deploy --broker URL[,URL...] (--all | --device ID... | --devices FILE) DESCRIPTOR.json
 *                   [--canary N|P%] [--wave N|P%] [--max-failures N|P%] [--timeout S]
 *                   [--discover MS] [--state FILE] [--json] [--prefix P]
 *   mote ota deploy --broker URL --resume STATE.json [--wave ...] [--max-failures ...]
 *
 * Discovery works on every broker: the CLI publishes a hello on the exact
 * topic `<prefix>/fleet/hello` (with --all) or `<prefix>/<id>/cmd/hello`, and
 * each device answers on `<prefix>/<id>/announce` (id, version, boot, slot and
 * its state). With --all the retained `<prefix>/+/status` = "online" are a
 * second source where the broker delivers retained messages to wildcards
 * (mosquitto, aedes; RabbitMQ does not).
 *
 * The descriptor goes out on `<prefix>/<id>/cmd/ota` stage by stage
 * (cli/rollout.ts decides); progress and outcome come on
 * `<prefix>/<id>/reply/ota` (and `<prefix>/<id>/ota`); the verdict is the
 * announce after the reboot. At the end: one row per device (or one JSON
 * object with --json), `mote: <code>: device <id>` on stderr per failure,
 * exit 0 only if every device took the update.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import mqtt from "mqtt";
import { parseDescriptor } from "../src/ota/descriptor.js";
import type { OtaArgs, OtaCliIO } from "./ota-args.js";
import { parseAmount, resultTable, Rollout, RolloutError, type Announce, type RolloutAction, type RolloutSnapshot } from "./rollout.js";
import { UsageError } from "./args.js";
import { startFleetView, type FleetView } from "../host-shim/sim/view.js";

const USAGE =
  "deploy --broker URL (--all | --device ID | --devices FILE) DESCRIPTOR.json [--canary N|P%] [--wave N|P%] [--max-failures N|P%] [--timeout S] [--state FILE] [--json] [--view PORT] | deploy --broker URL --resume STATE.json";

/** Device ids: 1..128 characters, no MQTT wildcards or level separators (MQTT 3.1.1 §4.7.1). */
const ID = /^[^\s/+#]{1,128}$/;
/** At most this many devices in one rollout (the table, the state file and the subscriptions stay bounded). */
const MAX_DEVICES = 10_000;

interface StateFile extends RolloutSnapshot {
  readonly descriptor: string;
  readonly prefix: string;
}

function bar(fraction: number, width = 24): string {
  const n = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return "[" + "#".repeat(n) + "-".repeat(width - n) + "]";
}

function readDeviceList(file: string): string[] {
  const ids: string[] = [];
  for (const raw of readFileSync(file, "utf8").split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") continue;
    if (!ID.test(line)) throw new UsageError(`${file}: "${line.slice(0, 40)}" is not a device id`);
    ids.push(line);
  }
  return ids;
}

function announceOf(payload: Buffer): Announce | undefined {
  if (payload.length > 2048) return undefined;
  try {
    const j = JSON.parse(payload.toString()) as Record<string, unknown>;
    if (j === null || typeof j !== "object") return undefined;
    return {
      ...(typeof j.version === "string" ? { version: j.version.slice(0, 64) } : {}),
      ...(typeof j.boot === "number" && Number.isInteger(j.boot) ? { boot: j.boot } : {}),
      ...(typeof j.slot === "string" ? { slot: j.slot.slice(0, 32) } : {}),
      ...(typeof j.slotState === "string" ? { slotState: j.slotState.slice(0, 32) } : {}),
    };
  } catch {
    return undefined;
  }
}

function writeState(file: string, state: StateFile): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 1));
  renameSync(tmp, file); // whole or not at all
}

export async function deploy(p: OtaArgs, io: OtaCliIO, signal?: AbortSignal): Promise<number> {
  const get = (k: string) => {
    const v = p.flags.get(k);
    if (v !== undefined && v.length > 1) throw new UsageError(`--${k} given twice`);
    return v?.[0];
  };
  const known = ["broker", "device", "devices", "all", "prefix", "timeout", "discover", "canary", "wave", "max-failures", "resume", "state", "json", "help", "view"];
  for (const k of p.flags.keys()) if (!known.includes(k)) throw new UsageError(`unknown option --${k}`);
  const broker = get("broker");
  const resumeFile = get("resume");
  const json = p.flags.has("json");
  const explicit = [...(p.flags.get("device") ?? [])];
  const listFile = get("devices");
  const all = p.flags.has("all");
  const modes = (explicit.length > 0 || listFile !== undefined ? 1 : 0) + (all ? 1 : 0) + (resumeFile !== undefined ? 1 : 0);
  if (broker === undefined || modes !== 1 || p.positional.length !== (resumeFile === undefined ? 1 : 0)) {
    io.err(`mote: usage: ${USAGE}`);
    return 2;
  }
  const number = (k: string, fallback: number, min: number): number => {
    const v = get(k);
    const n = v === undefined ? fallback : Number(v);
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${k} must be a number ≥ ${min}`);
    return n;
  };
  const timeoutMs = number("timeout", 300, 1) * 1000;
  const discoverMs = number("discover", 3000, 0);
  const amount = (k: string) => {
    const v = get(k);
    return v === undefined ? undefined : parseAmount(v, `--${k}`);
  };
  const canary = amount("canary");
  const wave = amount("wave");
  const maxFailures = amount("max-failures");
  // --view PORT: the live fleet view (host-shim/sim/view.ts) shows the rollout at http://127.0.0.1:PORT/ (0: a free port)
  const viewPort = get("view") === undefined ? undefined : Number(get("view"));
  if (viewPort !== undefined && !(Number.isInteger(viewPort) && viewPort >= 0 && viewPort <= 65535)) throw new UsageError("--view must be a port 0..65535");
  let view: FleetView | undefined;

  // What to roll out, to whom, from where.
  let previous: StateFile | undefined;
  let text: string;
  let prefix: string;
  if (resumeFile !== undefined) {
    try {
      previous = JSON.parse(readFileSync(resumeFile, "utf8")) as StateFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw e;
      io.err(`mote: bad-state: ${resumeFile} is not a rollout state file`);
      return 1;
    }
    if (typeof previous.descriptor !== "string" || typeof previous.prefix !== "string") {
      io.err(`mote: bad-state: ${resumeFile} is not a rollout state file`);
      return 1;
    }
    text = previous.descriptor;
    prefix = get("prefix") ?? previous.prefix;
  } else {
    text = readFileSync(p.positional[0], "utf8").trim();
    prefix = get("prefix") ?? "mote";
  }
  const descriptor = parseDescriptor(text); // refuse to send something the devices will refuse for form
  const stateFile = get("state") ?? resumeFile;
  for (const id of explicit) if (!ID.test(id)) throw new UsageError(`"${id.slice(0, 40)}" is not a device id`);
  let listed = listFile !== undefined ? [...explicit, ...readDeviceList(listFile)] : explicit;
  if (previous !== undefined) listed = previous.devices.map((d) => d.id);
  if (listed.length > MAX_DEVICES) throw new UsageError(`at most ${MAX_DEVICES} devices in one rollout`);

  const urls = broker.split(",").map((u) => u.trim()).filter((u) => u !== "");
  const client = await connectFirst(urls, io);
  if (client === undefined) return 1;
  const say = (line: string) => {
    if (!json) io.out(line);
  };
  let rollout: Rollout | undefined;
  const announced = new Map<string, Announce>();
  const onlineRetained = new Set<string>();
  let lost = false;
  let wake: (() => void) | undefined;
  client.on("close", () => {
    lost = true;
    wake?.();
  });
  const pending: RolloutAction[] = [];
  const now = () => Date.now();
  client.on("message", (topic, payload, packet) => {
    const levels = topic.split("/");
    const pre = prefix.split("/").length;
    if (levels.length < pre + 2 || levels.slice(0, pre).join("/") !== prefix) return;
    const id = levels[pre];
    const rest = levels.slice(pre + 1).join("/");
    if (rest === "announce") {
      const a = announceOf(payload);
      if (a === undefined) return;
      announced.set(id, a);
      if (rollout !== undefined) pending.push(...rollout.handle({ type: "announce", id, announce: a }, now()));
    } else if (rest === "status") {
      if (packet.retain && payload.toString() === "online") onlineRetained.add(id);
    } else if ((rest === "reply/ota" || rest === "ota") && rollout !== undefined) {
      let reply: Record<string, unknown>;
      try {
        reply = JSON.parse(payload.toString()) as Record<string, unknown>;
      } catch {
        return;
      }
      if (reply === null || typeof reply !== "object") return;
      pending.push(...rollout.handle({ type: "reply", id, reply }, now()));
    } else return;
    wake?.();
  });

  const state = (): StateFile => ({ ...rollout!.snapshot(), descriptor: text, prefix });
  let stateWritten: string | undefined;
  const save = (force: boolean) => {
    const file = stateFile ?? (force ? resolve(`mote-rollout-${descriptor.version}.json`) : undefined);
    if (file === undefined || rollout === undefined) return;
    writeState(file, state());
    stateWritten = file;
  };

  try {
    await client.subscribeAsync([`${prefix}/+/announce`, `${prefix}/+/reply/ota`, `${prefix}/+/ota`], { qos: 1 });
    // Discovery: every device that answers the hello (and, with --all, every
    // retained "online" status where the broker delivers those to a wildcard).
    if (all) {
      await client.subscribeAsync(`${prefix}/+/status`, { qos: 1 });
      await client.publishAsync(`${prefix}/fleet/hello`, JSON.stringify({ hello: process.pid }), { qos: 1 });
    } else for (const id of listed) await client.publishAsync(`${prefix}/${id}/cmd/hello`, "{}", { qos: 1 });
    await waitUntil(discoverMs, signal, (w) => (wake = w), () => lost || (!all && listed.every((id) => announced.has(id))));
    if (all) await client.unsubscribeAsync(`${prefix}/+/status`);
    let targets = all ? [...new Set([...announced.keys(), ...onlineRetained])].sort() : listed;
    targets = targets.filter((id) => ID.test(id));
    if (targets.length === 0) {
      io.err("mote: no-devices: no device answered the hello or reported online");
      return 1;
    }
    if (!all && previous === undefined) {
      const silent = targets.filter((id) => !announced.has(id));
      if (silent.length > 0) say(`${silent.length} device(s) did not answer the hello (offline, or a build without discovery): ${silent.slice(0, 5).join(", ")}${silent.length > 5 ? ", …" : ""}`);
    }
    try {
      rollout =
        previous !== undefined
          ? Rollout.resume(previous, { canary, wave, maxFailures, deviceTimeoutMs: get("timeout") === undefined ? undefined : timeoutMs })
          : new Rollout(targets, { version: descriptor.version, canary, wave, maxFailures, deviceTimeoutMs: timeoutMs });
    } catch (e) {
      if (e instanceof RolloutError) {
        io.err(`mote: ${e.code}: ${e.message}`);
        return e.code === "usage" ? 2 : 1;
      }
      throw e;
    }
    for (const [id, a] of announced) rollout.baseline(id, a);
    say(
      `${previous !== undefined ? "resuming" : "rolling out"} ${descriptor.kind} ${descriptor.version} to ${targets.length} device(s): canary ${describe(canary, "1")}, waves of ${describe(wave, "all the rest")}, halt at more than ${rollout.maxFailures} failure(s)`,
    );
    if (viewPort !== undefined) {
      view = await startFleetView({ port: viewPort });
      say(`view ${view.url}`);
    }
    pending.push(...rollout.handle({ type: "start" }, now()));

    // The loop: run what the core asks, sleep until a message or its next deadline.
    for (let turn = 0; turn < 10_000_000; turn++) {
      while (pending.length > 0) {
        const a = pending.shift()!;
        await run(a);
      }
      view?.publishRollout(rollout.snapshot());
      if (rollout.state === "halted" || rollout.state === "finished" || signal?.aborted || lost) break;
      const deadline = rollout.nextDeadline();
      await waitUntil(deadline === undefined ? 1000 : Math.max(0, deadline - now()), signal, (w) => (wake = w), () => pending.length > 0 || lost);
      if (pending.length === 0) pending.push(...rollout.handle({ type: "tick" }, now()));
    }
  } finally {
    wake = undefined;
    await view?.close();
    await client.endAsync().catch(() => undefined);
  }

  async function run(a: RolloutAction): Promise<void> {
    switch (a.type) {
      case "stage":
        say(`stage ${a.stage === 0 ? "canary" : `wave ${a.stage}`}: ${a.ids.length} device(s)`);
        save(false);
        return;
      case "send":
        await client!.publishAsync(`${prefix}/${a.id}/cmd/ota`, text, { qos: 1 });
        say(`${a.id}: sent ${descriptor.kind} ${descriptor.version}`);
        return;
      case "hello":
        await client!.publishAsync(`${prefix}/${a.id}/cmd/hello`, "{}", { qos: 1 });
        return;
      case "progress": {
        const m = /(\d+)\/(\d+)/.exec(a.detail);
        say(m ? `${a.id} ${bar(Number(m[1]) / Number(m[2]))} ${a.detail}` : `${a.id} ${a.detail}`);
        return;
      }
      case "result":
        say(a.ok ? `${a.id} done: ${a.detail}` : `${a.id} failed: ${a.code}: ${a.detail}`);
        save(false);
        return;
      case "halt":
        say(`halted: ${a.failures} failure(s), more than the ${a.maxFailures} allowed`);
        save(true);
        return;
      case "finished":
        save(false);
        return;
    }
  }

  const r = rollout!;
  if (r.state !== "finished" && r.state !== "halted") save(true); // interrupted or the broker went away: resumable
  const devices = r.devices;
  const failed = devices.filter((d) => d.phase === "failed");
  const succeeded = devices.filter((d) => d.phase === "succeeded");
  if (json) {
    io.out(
      JSON.stringify({
        version: descriptor.version,
        state: lost && r.state !== "finished" && r.state !== "halted" ? "broker-lost" : r.state,
        failures: r.failures,
        maxFailures: r.maxFailures,
        succeeded: succeeded.length,
        failed: failed.length,
        notSent: devices.filter((d) => d.phase === "waiting").length,
        stateFile: stateWritten,
        devices: devices.map((d) => ({
          id: d.id,
          stage: d.stage,
          result: d.phase,
          code: d.code,
          detail: d.detail,
          from: d.from,
          to: d.last,
          ms: d.sentAt !== undefined && d.endedAt !== undefined ? d.endedAt - d.sentAt : undefined,
        })),
      }),
    );
  } else {
    for (const line of resultTable(devices)) io.out(line);
    io.out(`${succeeded.length} ok, ${failed.length} failed, ${devices.length - succeeded.length - failed.length} not done (${r.state})`);
    if (r.state === "halted" && stateWritten !== undefined) io.out(`resume with: mote ota deploy --broker ${broker.replace(/\/\/[^@/]*@/, "//")} --resume ${stateWritten}`);
  }
  for (const d of failed) {
    const detail = d.detail.replace(/^([a-z0-9-]+): /, "");
    io.err(`mote: ${d.code ?? "error"}: device ${d.id}${detail !== "" && detail !== d.code ? ` (${detail})` : ""}`);
  }
  if (lost && r.state !== "finished" && r.state !== "halted") io.err("mote: broker-lost: the connection to the broker was lost; resume with --resume");
  return r.state === "finished" && failed.length === 0 && succeeded.length === devices.length ? 0 : 1;
}

function describe(a: ReturnType<typeof parseAmount> | undefined, fallback: string): string {
  if (a === undefined) return fallback;
  return "count" in a ? `${a.count}` : `${a.percent}%`;
}

/** The first broker of the list that accepts the connection (bounded: 10 s each); undefined after saying why none did. */
async function connectFirst(urls: string[], io: OtaCliIO): Promise<mqtt.MqttClient | undefined> {
  const reasons: string[] = [];
  for (const url of urls) {
    try {
      return await mqtt.connectAsync(url, {
        clientId: `mote-deploy-${process.pid}-${Date.now() % 100000}`,
        reconnectPeriod: 0,
        connectTimeout: 10_000,
        protocolVersion: 4,
      });
    } catch (e) {
      reasons.push(`${url.replace(/\/\/[^@/]*@/, "//")}: ${(e as Error).message}`);
    }
  }
  io.err(`mote: connect-failed: no broker accepted the connection (${reasons.join("; ")})`);
  return undefined;
}

/** Resolves after `ms`, on abort, or when `done()` holds after a wake-up. */
function waitUntil(ms: number, signal: AbortSignal | undefined, setWake: (w: () => void) => void, done: () => boolean): Promise<void> {
  return new Promise((resolveWait) => {
    if (done() || signal?.aborted) return resolveWait();
    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      resolveWait();
    };
    const timer = setTimeout(finish, ms);
    signal?.addEventListener("abort", finish, { once: true });
    setWake(() => {
      if (done()) finish();
    });
  });
}
