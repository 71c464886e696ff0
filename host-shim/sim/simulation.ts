/**
 * The simulator, as a library: peers + fault proxies + N devices on XS.
 *
 *   const sim = await startSimulation({ telemetryMs: 500 });
 *   await sim.waitFor((s) => s.every((d) => d.device?.healthy), 20_000);
 *   sim.faults.brokerRestart();
 *   ...
 *   await sim.stop();
 *
 * `mote sim` (cli/sim.ts) is a thin face over this; XS-tier tests use it directly.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, type Dirent } from "node:fs";
import { join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { startBroker, startCoapServer, startUpdateServer, type BrokerPeer, type CoapPeer, type UpdatePeer } from "./peers.js";
import { TcpFaultProxy, UdpFaultProxy, type ScheduledFault } from "./faults.js";
import { isHealthy, SimDevice, type SimDeviceEvent, type SimDeviceStatus } from "./device.js";
import { AirSpace, createHardware, configureSharedHardware, type WifiNetwork } from "./hardware.js";
import { withNetworkStack } from "./network.js";
import { bundleForXs, projectRoot } from "../xs/engine.js";
import { imageHeapBytes } from "./chip-heap.js";
import { liteXsnapBinary } from "../xs/xsnap-lite.js";
import { seededRandom } from "../../src/runtime/backoff.js";
import { crc32 } from "../../src/util/crc32.js";
import { parsePublicKey } from "../../src/ota/keys.js";
import { configureFlash } from "../node/flash.js";
import { bootRecord, onRestart, provisionSim, simulateBoot } from "../node/ota.js";

export interface SimulationOptions {
  /** Number of devices (distinct MACs and client ids). Default 1, at most 500. */
  devices?: number;
  /**
   * External broker (`mqtt://[user:pass@]host:port`) instead of the embedded
   * aedes, or several separated by commas (the nodes of a cluster): device i
   * gets them all, starting at broker i mod n (the fleet spreads over the
   * list) and failing over to the next ones in order.
   */
  broker?: string;
  /**
   * Fleet name: the devices' MACs (and so their client ids) are drawn from it,
   * so two simulators with different names never share an id. Default: none,
   * the fixed 02:6d:6f:… MACs (`mote sim` passes host name + pid).
   */
  fleet?: string;
  /** false: every device's broker list starts at the first broker (default true: at broker i mod n). */
  spread?: boolean;
  /** External CoAP server (`coap://host:port`) instead of the embedded one. */
  coap?: string;
  /** Port of the embedded broker (default: a free one). */
  brokerPort?: number;
  /** State folder (preferences, flash) — one sub-folder per device. Default `.state/sim`. */
  state?: string;
  /** Telemetry period given as build-time config, ms (default: the program's default). */
  telemetryMs?: number;
  /** Topic prefix (default: the program's "mote"). */
  prefix?: string;
  /** Observe the CoAP server's /sensor (default true). */
  observeSensor?: boolean;
  /** WiFi network the devices know. Default ssid "mote-sim", password "mote-sim-pass". */
  wifi?: { ssid: string; password: string };
  /** Password the devices are built with (default: the network's; a different one = wrong password). */
  devicePassword?: string;
  /** Extra mc/config values for every device. */
  config?: Record<string, unknown>;
  /** Faults to run on schedule (from `--fault`). */
  faults?: readonly ScheduledFault[];
  /** The device script; default: dist/sim/device.js if it is up to date, else bundled from src/app/main.ts. */
  bundle?: string | (() => Promise<string>);
  /**
   * OTA (one device only): `publicKey` becomes the device's `otaKey`, so it takes
   * signed updates on `cmd/ota`. A single device always boots from its simulated
   * flash: the current bundle is written to slot ota_0 as `factoryVersion`
   * (default "1.0.0", board `board`, default "sim") at start.
   */
  ota?: { publicKey: string | Uint8Array; factoryVersion?: string; board?: string };
  /**
   * The XS worker the devices run on: "lite" (host-shim/xs/xsnap-lite.ts, a
   * small-heap build: ~1/5 of the memory per device; build it first with
   * ensureLiteXsnap()) or "standard" (@agoric/xsnap's). Default: "lite" for a
   * fleet (devices > 1) when it is built, else "standard".
   */
  engine?: "lite" | "standard";
  /** Status poll period, ms (default 1000). */
  pollMs?: number;
  /** Seed for loss decisions (default 1). */
  seed?: number;
  /** Called once the peers listen, before the devices boot. */
  onPeers?(peers: { brokerUrl: string; coapUrl: string; updatesUrl: string; embeddedBroker: boolean; embeddedCoap: boolean }): void;
  onLog?(device: number, line: string): void;
  onEvent?(device: number, event: SimDeviceEvent | { type: "fault"; fault: string }): void;
}

export interface SimulationFaults {
  /** The devices' access point vanishes for `durationMs` (default 3000); all devices or one. */
  wifiDrop(durationMs?: number, device?: number): void;
  /** The broker restarts: connections cut, down for `downMs` (default 1000). */
  brokerRestart(downMs?: number): Promise<void>;
  /** Power cut of one device (default all), off for `offMs` (default 1000). */
  powerCut(offMs?: number, device?: number): Promise<void>;
  /** Loss rate on the device↔peer links (TCP: delays; UDP: drops). */
  loss(rate: number): void;
}

export interface Simulation {
  readonly devices: readonly SimDevice[];
  readonly brokerUrl: string;
  readonly coapUrl: string;
  readonly updatesUrl: string;
  /** The URLs device 0 uses (through its fault proxies). */
  readonly deviceBrokerUrl: string;
  readonly deviceCoapUrl: string;
  /**
   * The broker (of `broker`'s list, as `host:port`) device `index` is connected
   * to or trying now, seen through its relay; undefined before its first status.
   */
  nodeOf(index: number): string | undefined;
  /** The flash slot device `index` booted from (a single device boots from its simulated flash); undefined for a fleet. */
  slotOf(index: number): string | undefined;
  /** The embedded peers (undefined when an external one is used). */
  readonly peers: { broker?: BrokerPeer; coap?: CoapPeer; updates: UpdatePeer };
  readonly faults: SimulationFaults;
  status(): SimDeviceStatus[];
  /** Polls now (status and XS heap of every device). */
  poll(): Promise<void>;
  /** Resolves when `predicate(status)` holds (polling), rejects after `timeoutMs`. */
  waitFor(predicate: (status: SimDeviceStatus[]) => boolean, timeoutMs: number): Promise<SimDeviceStatus[]>;
  /** Whether every device ended healthy. */
  healthy(): boolean;
  stop(): Promise<void>;
}

const MAX_DEVICES = 500;

/** dist/sim/device.js when it is newer than every src file it comes from; undefined otherwise. */
export function builtDeviceBundle(root = projectRoot()): string | undefined {
  const file = join(root, "dist", "sim", "device.js");
  try {
    const built = statSync(file).mtimeMs;
    if (newestSource(join(root, "src")) > built) return undefined;
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Modification time of the newest .ts file under `dir` (0 for none). */
export function newestSource(dir: string, depth = 0): number {
  let newest = 0;
  if (depth > 8) return newest;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return newest;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p, depth + 1));
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * The device script for the simulator: dist/sim/device.js, rebuilt first when
 * older than src/ ("builds if needed"); bundled in memory if the build fails.
 */
export async function deviceBundle(log?: (line: string) => void): Promise<string> {
  const fresh = builtDeviceBundle();
  if (fresh !== undefined) return fresh;
  const script = join(projectRoot(), "scripts", "build.mjs");
  if (existsSync(script)) {
    log?.("building dist/sim/device.js …");
    const r = spawnSync(process.execPath, [script, "--only=sim"], { cwd: projectRoot(), encoding: "utf8", timeout: 120_000 });
    const built = builtDeviceBundle();
    if (r.status === 0 && built !== undefined) return built;
    log?.(`build failed (${(r.stderr || r.stdout || "").trim().split("\n").pop()}); bundling src/app/main.ts in memory`);
  }
  return bundleForXs("src/app/main.ts");
}

export async function startSimulation(options: SimulationOptions = {}): Promise<Simulation> {
  const count = options.devices ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > MAX_DEVICES)
    throw Object.assign(new Error(`invalid-option: devices must be 1..${MAX_DEVICES}`), { code: "invalid-option" });
  if (options.ota !== undefined && count !== 1)
    throw Object.assign(new Error("invalid-option: OTA simulation supports one device (one flash per process)"), { code: "invalid-option" });
  const stateRoot = resolve(options.state ?? join(projectRoot(), ".state", "sim"));
  mkdirSync(stateRoot, { recursive: true });
  const random = seededRandom(options.seed ?? 1);
  const cleanups: (() => Promise<void> | void)[] = [];

  try {
    // Peers (embedded unless given) and the fault proxies in front of them.
    let broker: BrokerPeer | undefined;
    let brokerTargets: BrokerTarget[];
    if (options.broker === undefined) {
      broker = await startBroker({ port: options.brokerPort });
      cleanups.push(() => broker!.close());
      brokerTargets = [{ host: "127.0.0.1", port: broker.port, userinfo: "" }];
    } else brokerTargets = brokerList(options.broker);
    let coap: CoapPeer | undefined;
    let coapTarget: { host: string; port: number };
    if (options.coap === undefined) {
      coap = await startCoapServer();
      cleanups.push(() => coap!.close());
      coapTarget = { host: "127.0.0.1", port: coap.port };
    } else coapTarget = hostPort(options.coap, /^coap:\/\//, 5683);
    const updates = await startUpdateServer();
    cleanups.push(() => updates.close());

    // One pair of fault proxies per device: its "radio". A WiFi drop resets that
    // device's connections (as losing the IP does on the board) and its network
    // stack (network.ts) has no route until the station has an address again;
    // loss applies to all.
    // With a broker list, one relay per broker: device i's list starts at broker i mod n.
    const links: { mqtt: TcpFaultProxy; mqttAll: TcpFaultProxy[]; brokerConfig: string; coap: UdpFaultProxy }[] = [];
    const relayTarget = new Map<number, string>();
    for (let i = 0; i < count; i++) {
      const mqttAll: TcpFaultProxy[] = [];
      const urls: string[] = [];
      const first = options.spread === false ? 0 : i % brokerTargets.length;
      for (let k = 0; k < brokerTargets.length; k++) {
        const target = brokerTargets[(first + k) % brokerTargets.length];
        const relay = new TcpFaultProxy({ targetHost: target.host, targetPort: target.port, random });
        await relay.listen();
        cleanups.push(() => relay.close());
        mqttAll.push(relay);
        relayTarget.set(relay.port, `${target.host}:${target.port}`);
        urls.push(`mqtt://${target.userinfo}127.0.0.1:${relay.port}`);
      }
      const mqtt = mqttAll[0];
      const coapLink = new UdpFaultProxy({ targetHost: coapTarget.host, targetPort: coapTarget.port, random });
      await coapLink.listen();
      cleanups.push(() => coapLink.close());
      links.push({ mqtt, mqttAll, brokerConfig: urls.join(","), coap: coapLink });
    }

    options.onPeers?.({
      brokerUrl: broker?.url ?? options.broker!,
      coapUrl: coap?.url ?? options.coap!,
      updatesUrl: updates.url,
      embeddedBroker: broker !== undefined,
      embeddedCoap: coap !== undefined,
    });
    const network: WifiNetwork = { ssid: options.wifi?.ssid ?? "mote-sim", password: options.wifi?.password ?? "mote-sim-pass", rssi: -52 };
    const bundleSource = options.bundle;
    let cachedBundle: string | undefined = typeof bundleSource === "string" ? bundleSource : undefined;
    let bundleForBoot: () => Promise<string | { source: string; config?: Record<string, unknown> }> = async () => {
      if (typeof bundleSource === "function") return bundleSource();
      cachedBundle ??= await deviceBundle(options.onLog === undefined ? undefined : (line) => options.onLog!(-1, line));
      return cachedBundle;
    };
    let bootedSlot: string | undefined;
    let otaKeyHex: string | undefined;
    if (options.ota !== undefined) {
      const key = typeof options.ota.publicKey === "string" ? parsePublicKey(options.ota.publicKey) : options.ota.publicKey;
      otaKeyHex = Buffer.from(key).toString("hex");
    }
    if (count === 1) {
      // One device: it boots from its (simulated) flash. At start the current bundle
      // is "flashed over USB" into slot ota_0 as the factory version — unless the
      // state folder's ota_0 already holds that very build, as after an earlier run:
      // then the flash is kept as it is (an update installed then still boots). Every
      // boot runs the image of the slot the simulated bootloader picks (an OTA update
      // switches it), with that image's version as mc/config `version`.
      const board = options.ota?.board ?? "sim";
      const factory = await bundleForBoot();
      configureFlash({ dir: join(stateRoot, macFor(0, options.fleet).replace(/:/g, ""), "flash") });
      const factoryImage = new TextEncoder().encode(factory as string);
      const factoryVersion = options.ota?.factoryVersion ?? "1.0.0";
      if (holdsFactory(factoryImage, factoryVersion)) options.onLog?.(0, "flash: ota_0 holds this build already; the flash of the last run is kept");
      else provisionSim({ image: factoryImage, version: factoryVersion });
      bundleForBoot = async () => {
        const boot = simulateBoot();
        if (boot.image === undefined) throw new Error(`no bootable firmware (${boot.reason})`);
        options.onLog?.(0, `boot: ${boot.slot} v${boot.version} (${boot.state}, ${boot.reason})`);
        bootedSlot = boot.slot;
        return { source: new TextDecoder().decode(boot.image), config: { version: boot.version, board } };
      };
    }
    let xsnapBinary: string | undefined;
    if (options.engine === "lite" || (options.engine === undefined && count > 1)) {
      xsnapBinary = liteXsnapBinary();
      if (xsnapBinary === undefined && options.engine === "lite")
        throw Object.assign(new Error("invalid-option: the lite XS worker is not built (ensureLiteXsnap())"), { code: "invalid-option" });
    }
    const air = new AirSpace([network]);
    configureSharedHardware(count === 1 ? join(stateRoot, macFor(0, options.fleet).replace(/:/g, "")) : stateRoot);
    const devices: SimDevice[] = [];
    for (let i = 0; i < count; i++) {
      const mac = macFor(i, options.fleet);
      const stateDir = join(stateRoot, mac.replace(/:/g, ""));
      mkdirSync(stateDir, { recursive: true });
      const buildConfig: Record<string, unknown> = {
        ssid: network.ssid,
        password: options.devicePassword ?? network.password,
        broker: links[i].brokerConfig,
        coap: `coap://127.0.0.1:${links[i].coap.port}`, // for apps (host-shim/sim/app.ts); the default program observes coapObserve
        ...(options.telemetryMs !== undefined ? { telemetryMs: options.telemetryMs } : {}),
        ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
        ...(otaKeyHex !== undefined ? { otaKey: otaKeyHex } : {}),
        ...(options.observeSensor === false ? {} : { coapObserve: [`coap://127.0.0.1:${links[i].coap.port}/sensor`] }),
        ...options.config,
      };
      const device = new SimDevice({
        index: i,
        name: `mote-sim-${i}`,
        stateDir,
        buildConfig,
        hardware: withNetworkStack(createHardware({ stateDir, mac, air, ssid: network.ssid }), {
          refusal: (_address, port) => links[i].mqttAll.find((relay) => relay.port === port)?.refusal(),
        }),
        bundleForBoot,
        xsnapBinary,
        // the default program (also from flash after an OTA update of it): its image is known
        imageHeapBytes: options.bundle === undefined ? () => imageHeapBytes(xsnapBinary) : undefined,
        onLog: options.onLog === undefined ? undefined : (line) => options.onLog!(i, line),
        onEvent: options.onEvent === undefined ? undefined : (e) => options.onEvent!(i, e),
      });
      devices.push(device);
    }
    // One device boots from its flash: the OTA twin's restart() (a health check
    // rolling an update back) restarts it, as esp_restart does the board.
    if (count === 1) {
      onRestart((reason) => devices[0].restartSoon(reason));
      cleanups.push(() => onRestart(undefined));
    }
    cleanups.push(async () => {
      await Promise.all(devices.map((d) => d.stop()));
    });
    // Boot in small groups: each boot starts an xsnap process.
    for (let i = 0; i < devices.length; i += 8) await Promise.all(devices.slice(i, i + 8).map((d) => d.boot()));

    const event = (fault: string) => {
      for (let i = 0; i < devices.length; i++) options.onEvent?.(i, { type: "fault", fault });
    };
    const faults: SimulationFaults = {
      wifiDrop(durationMs = 3000, device?: number) {
        event(`wifi-drop ${durationMs} ms`);
        for (const i of device === undefined ? devices.map((_, k) => k) : [device]) {
          devices[i].dropWifi(durationMs);
          for (const relay of links[i].mqttAll) relay.cut(0); // reset now; new connects fail for want of a route, not by a timer of their own
          links[i].coap.cut(durationMs);
        }
      },
      async brokerRestart(downMs = 1000) {
        event(`broker-restart ${downMs} ms`);
        if (broker !== undefined) await broker.restart(downMs);
        else {
          for (const l of links) for (const relay of l.mqttAll) relay.cut(downMs);
          await new Promise((r) => setTimeout(r, downMs));
        }
      },
      async powerCut(offMs = 1000, device?: number) {
        event(`power-cut ${offMs} ms`);
        await Promise.all((device === undefined ? devices : [devices[device]]).map((d) => d.powerCut(offMs)));
      },
      loss(rate: number) {
        event(`loss ${rate}`);
        for (const l of links) {
          for (const relay of l.mqttAll) relay.loss = rate;
          l.coap.loss = rate;
        }
      },
    };

    // Scheduled faults.
    const started = Date.now();
    const timers: NodeJS.Timeout[] = [];
    for (const f of options.faults ?? []) {
      timers.push(
        setTimeout(() => {
          if (f.kind === "wifi-drop") faults.wifiDrop(f.durationMs);
          else if (f.kind === "broker-restart") void faults.brokerRestart(f.durationMs);
          else if (f.kind === "power-cut") void faults.powerCut(f.durationMs);
          else faults.loss(f.rate ?? 0);
        }, Math.max(0, f.atMs - (Date.now() - started))),
      );
    }
    cleanups.push(() => timers.forEach(clearTimeout));

    const poll = async () => {
      await Promise.all(devices.map((d) => d.poll()));
    };
    const pollTimer = setInterval(() => void poll(), options.pollMs ?? 1000);
    cleanups.push(() => clearInterval(pollTimer));

    let stopped = false;
    const sim: Simulation = {
      devices,
      brokerUrl: broker?.url ?? options.broker!,
      coapUrl: coap?.url ?? options.coap!,
      updatesUrl: updates.url,
      deviceBrokerUrl: `mqtt://127.0.0.1:${links[0].mqtt.port}`,
      deviceCoapUrl: `coap://127.0.0.1:${links[0].coap.port}`,
      peers: { broker, coap, updates },
      faults,
      status: () => devices.map((d) => d.status()),
      nodeOf(index) {
        const node = devices[index]?.status().device?.mqtt.node;
        const port = node === undefined ? NaN : Number(node.slice(node.lastIndexOf(":") + 1));
        return relayTarget.get(port);
      },
      slotOf: (index) => (index === 0 ? bootedSlot : undefined),
      poll,
      async waitFor(predicate, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          await Promise.all(devices.map((d) => d.poll(false)));
          const s = sim.status();
          if (predicate(s)) return s;
          if (Date.now() > deadline)
            throw new Error(`timeout: condition not met in ${timeoutMs} ms; status ${JSON.stringify(s.map(brief))}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      healthy: () => devices.every((d) => isHealthy(d.status())),
      async stop() {
        if (stopped) return;
        stopped = true;
        for (const c of cleanups.reverse()) await c();
      },
    };
    return sim;
  } catch (e) {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    throw e;
  }
}

/** Whether the simulated flash's ota_0 holds `image` as version `version` (flashed by an earlier run). */
function holdsFactory(image: Uint8Array, version: string): boolean {
  const slot = bootRecord().slots[0];
  if (slot.state === "empty" || slot.size !== image.length || slot.version !== version) return false;
  const digest = createHash("sha256").update(image).digest();
  return digest.length === slot.sha256.length && digest.every((b, i) => b === slot.sha256[i]);
}

function brief(s: SimDeviceStatus): unknown {
  return { name: s.name, state: s.state, wifi: s.device?.wifi, mqtt: s.device?.mqtt, error: s.lastError };
}

/**
 * A locally administered, unicast MAC per device index: 02:6d:6f:xx:xx:xx
 * ("mo") without a fleet name; with one, 02 then 24 bits of the name's
 * CRC-32 then the index in 16 bits, so fleets with different names get
 * disjoint MACs (and client ids) unless their names' hashes collide
 * (1 in 2^24 per pair).
 */
export function macFor(index: number, fleet?: string): string {
  let b: number[];
  if (fleet === undefined) b = [0x02, 0x6d, 0x6f, (index >> 16) & 0xff, (index >> 8) & 0xff, index & 0xff];
  else {
    let h = crc32(new TextEncoder().encode(fleet)) >>> 8;
    // never the prefix of the unnamed fleet
    if (h >>> 8 === 0x6d6f) h ^= 0x800000;
    b = [0x02, (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff, (index >> 8) & 0xff, index & 0xff];
  }
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

interface BrokerTarget {
  host: string;
  port: number;
  /** `user:pass@` as given (already percent-encoded), or "". */
  userinfo: string;
}

/** `mqtt://[user:pass@]host[:port]`, one or several separated by commas. */
function brokerList(value: string): BrokerTarget[] {
  const out: BrokerTarget[] = [];
  for (const url of value.split(",").map((u) => u.trim())) {
    const m = /^mqtt:\/\/([^@/]*@)?([^/:@]+)(?::(\d+))?\/?$/.exec(url);
    const port = m?.[3] === undefined ? 1883 : Number(m[3]);
    if (m === null || !(port >= 1 && port <= 65535))
      throw Object.assign(new Error(`invalid-option: bad broker URL ${url}`), { code: "invalid-option" });
    out.push({ host: m[2], port, userinfo: m[1] ?? "" });
  }
  if (out.length > 8) throw Object.assign(new Error("invalid-option: at most 8 brokers"), { code: "invalid-option" });
  return out;
}

function hostPort(url: string, scheme: RegExp, defaultPort: number): { host: string; port: number } {
  const m = /^[a-z]+:\/\/([^/:]+)(?::(\d+))?\/?$/.exec(url);
  if (!scheme.test(url) || m === null)
    throw Object.assign(new Error(`invalid-option: bad peer URL ${url}`), { code: "invalid-option" });
  return { host: m[1], port: m[2] === undefined ? defaultPort : Number(m[2]) };
}
