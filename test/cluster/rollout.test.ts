/**
 * Staged OTA rollout on a real 3-node RabbitMQ cluster (issue 19). RabbitMQ
 * keeps retained messages on one node and never delivers them to a wildcard
 * subscription, so `mote ota deploy --all` must find the fleet by its hello
 * (`mote/fleet/hello`, an exact topic) and the devices' announces.
 *
 * The fleet: N simulated devices (default 50, env MOTE_ROLLOUT_DEVICES), one
 * `mote sim --ota-key` process each (the simulated flash is one per process),
 * spread over the three nodes; the deploy CLI talks to node 2 only.
 *  1. a good image (v2.0.0) goes out as a canary of 5, then waves of 25 %:
 *     every device ends on v2.0.0 in slot ota_1, kept by its health check;
 *  2. a bad image (v3.0.0: a build whose self-test fails) halts the rollout
 *     after the canary: the 5 canary devices are back on v2.0.0 in their old
 *     slot, the other devices were never sent it; the state file resumes it.
 */
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SimProcess as SimProcessOf } from "../helpers/sim-process.js";
import { rabbitmqSkipReason, startRabbitCluster, type RabbitCluster } from "../helpers/rabbitmq.js";
import { startOtaServer, type OtaServer } from "../../cli/ota-serve.js";
import { describeImage, signDescriptor } from "../../cli/ota-sign.js";
import { encodeDescriptor } from "../../src/ota/descriptor.js";
import { bundleForXs } from "../../host-shim/xs/engine.js";
import { builtDeviceBundle } from "../../host-shim/sim/simulation.js";
import { main as ota } from "../../cli/ota.js";
import { run } from "../helpers/run.js";

const skip = rabbitmqSkipReason();
const root = join(__dirname, "..", "..");
const N = Number(process.env.MOTE_ROLLOUT_DEVICES ?? 50);
const CANARY = 5;

interface DeviceJson {
  id?: string;
  version?: string;
  healthy: boolean;
  boots: number;
  mqtt?: { state: string };
}

/** One `mote sim` process per device: its device is the first (only) of the status line. */
class SimProcess extends SimProcessOf<DeviceJson> {
  get last(): DeviceJson | undefined {
    return this.devices?.[0];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded in time and turns) until `pred` holds for every simulator. */
async function every(sims: SimProcess[], pred: (d: DeviceJson) => boolean, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 100_000; i++) {
    const dead = sims.find((s) => s.exited);
    if (dead !== undefined) throw new Error(`a mote sim exited (${dead.child.exitCode}) before ${what}: ${dead.stderr}`);
    const bad = sims.filter((s) => s.last === undefined || !pred(s.last));
    if (bad.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${bad.length} of ${sims.length} devices not ${what} within ${ms} ms, e.g. ${JSON.stringify(bad[0].last)} ${bad[0].stderr}`);
    await sleep(500);
  }
}

async function deploy(...argv: string[]): Promise<{ status: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await ota(["deploy", ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { status, out, err };
}

interface DeployJson {
  state: string;
  failures: number;
  succeeded: number;
  failed: number;
  notSent: number;
  stateFile?: string;
  devices: { id: string; stage: number; result: string; code?: string; from?: { version?: string; boot?: number; slot?: string }; to?: { version?: string; boot?: number; slot?: string; slotState?: string } }[];
}

describe.skipIf(skip !== undefined)(`staged OTA rollout to ${N} simulated devices on a 3-node RabbitMQ cluster`, () => {
  let cluster: RabbitCluster;
  let server: OtaServer;
  let dir: string;
  const sims: SimProcess[] = [];
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mote-rollout-"));
    // The simulators boot dist/sim/device.js: build it once here, not once per process.
    if (builtDeviceBundle() === undefined) {
      const r = await run(process.execPath, [join(root, "scripts", "build.mjs"), "--only=sim"], { cwd: root, timeoutMs: 300_000 });
      if (r.status !== 0 || builtDeviceBundle() === undefined) throw new Error(`build of dist/sim/device.js failed: ${r.stderr}`);
    }
    if (!existsSync(join(root, "dist", "node", "cli.mjs"))) throw new Error("dist/node/cli.mjs is missing: npm run build");
    const factory = builtDeviceBundle()!;
    writeFileSync(join(dir, "fleet.pub"), publicKey.export({ type: "spki", format: "pem" }));
    server = await startOtaServer({ dir });
    const images: [string, string, string][] = [
      ["2.0.0", `${factory}\n// mote 2.0.0\n`, "good"],
      ["3.0.0", `${await bundleForXs("test/cluster/rollout-bad-build.ts")}\n// mote 3.0.0 (self-test fails)\n`, "bad"],
    ];
    for (const [version, source, name] of images) {
      const image = new TextEncoder().encode(source);
      writeFileSync(join(dir, `${name}.js`), image);
      const d = signDescriptor(describeImage(image, { version, board: "sim", urls: [`${server.url}${name}.js`] }), privateKey);
      writeFileSync(join(dir, `${name}.json`), encodeDescriptor(d));
    }
    cluster = await startRabbitCluster({ nodes: 3 });
    const urls = cluster.nodes.map((n) => n.url);
    // Device i starts on node i mod 3 (its broker list rotated), with its own state and fleet name.
    for (let i = 0; i < N; i++) {
      const list = [...urls.slice(i % 3), ...urls.slice(0, i % 3)].join(",");
      sims.push(
        new SimProcess([
          "--broker", list, "--ota-key", join(dir, "fleet.pub"), "--state", join(dir, `sim-${i}`), "--fleet", `rollout-${process.pid}-${i}`,
          "--telemetry", "30000", "--json", "--for", "3600",
        ]),
      );
      // Five at a time, each batch connected before the next starts: every device's
      // persistent session is a quorum queue the three nodes agree on, and a crowd of
      // them at once on a loaded machine outlasts the devices' CONNECT timeout.
      if (i % 5 === 4 || i === N - 1) await every(sims.slice(i - (i % 5)), (d) => d.healthy && d.mqtt?.state === "connected" && d.version === "1.0.0", "healthy on v1.0.0", 300_000);
    }
  }, 1_200_000);

  afterAll(async () => {
    await Promise.all(sims.map((s) => s.stop()));
    await server?.close();
    try {
      await cluster?.stop();
    } catch (e) {
      // every node and epmd are ended by then; a file a dying node wrote late can make the first rmdir fail
      if ((e as NodeJS.ErrnoException).code !== "ENOTEMPTY") throw e;
      rmSync(cluster.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 500 });
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  test("discovery by hello finds every device; a good image goes out as a canary, then waves, and every device keeps it", async () => {
    const ids = sims.map((s) => s.last!.id!);
    expect(new Set(ids).size).toBe(N);
    const started = Date.now();
    const r = await deploy(
      "--broker", cluster.nodes[1].url, "--all", "--discover", "8000", "--canary", String(CANARY), "--wave", "25%",
      "--timeout", "600", "--json", "--state", join(dir, "good.state.json"), join(dir, "good.json"),
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(`rollout of v2.0.0 to ${N} devices: ${seconds.toFixed(1)} s`);
    expect(r.err).toEqual([]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.out.at(-1)!) as DeployJson;
    expect(j.state).toBe("finished");
    expect(j.devices.map((d) => d.id).sort()).toEqual([...ids].sort());
    expect(j.succeeded).toBe(N);
    // stages: the canary, then waves of ceil(25 % of N)
    const wave = Math.ceil(N / 4);
    const perStage = new Map<number, number>();
    for (const d of j.devices) perStage.set(d.stage, (perStage.get(d.stage) ?? 0) + 1);
    const expected = [Math.min(CANARY, N)];
    for (let left = N - expected[0]; left > 0; left -= wave) expected.push(Math.min(wave, left));
    expect([...perStage.keys()].sort((a, b) => a - b).map((k) => perStage.get(k))).toEqual(expected);
    for (const d of j.devices) {
      expect(d.from).toMatchObject({ version: "1.0.0", slot: "ota_0" });
      expect(d.to).toMatchObject({ version: "2.0.0", slot: "ota_1", slotState: "valid" });
    }
    // what the simulators themselves say (not the announces)
    await every(sims, (d) => d.version === "2.0.0" && d.healthy && d.boots === 2, "on v2.0.0", 120_000);
  }, 1_500_000);

  test("a bad image (its self-test fails) halts the rollout after the canary, every canary device back on its old slot", async () => {
    const stateFile = join(dir, "bad.state.json");
    const before = new Map(sims.map((s) => [s.last!.id!, s.last!.boots]));
    const r = await deploy(
      "--broker", cluster.nodes[1].url, "--all", "--discover", "8000", "--canary", String(CANARY), "--wave", "25%",
      "--max-failures", "0", "--timeout", "600", "--json", "--state", stateFile, join(dir, "bad.json"),
    );
    expect(r.status).toBe(1);
    const j = JSON.parse(r.out.at(-1)!) as DeployJson;
    expect(j.state).toBe("halted");
    const canary = j.devices.filter((d) => d.stage === 0);
    expect(canary).toHaveLength(CANARY);
    for (const d of canary) {
      expect(d).toMatchObject({ result: "failed", code: "rollback" });
      expect(d.from).toMatchObject({ version: "2.0.0", slot: "ota_1" });
      expect(d.to).toMatchObject({ version: "2.0.0", slot: "ota_1", slotState: "valid" }); // the old slot, kept
    }
    expect(j.devices.filter((d) => d.stage !== 0).every((d) => d.result === "waiting")).toBe(true);
    expect(j.notSent).toBe(N - CANARY);
    expect(r.err).toHaveLength(CANARY);
    for (const line of r.err) expect(line).toMatch(/^mote: rollback: device \S+ \(rebooted into 2\.0\.0 on ota_1/);
    // the simulators: canary devices booted twice more (into v3, back to v2), the rest not at all
    const canaryIds = new Set(canary.map((d) => d.id));
    await every(sims, (d) => d.healthy && d.version === "2.0.0" && d.boots === before.get(d.id!)! + (canaryIds.has(d.id!) ? 2 : 0), "back on v2.0.0", 120_000);
    // the state file names the halt and resumes (a resume with no room for failures fails the next one and stops)
    const saved = JSON.parse(readFileSync(stateFile, "utf8")) as { state: string; devices: { id: string; phase: string }[] };
    expect(saved.state).toBe("halted");
    expect(saved.devices.filter((d) => d.phase === "failed").map((d) => d.id).sort()).toEqual([...canaryIds].sort());
  }, 1_500_000);
});
