/**
 * A real RabbitMQ cluster on 127.0.0.1 for the cluster tier (test/cluster):
 * Debian's rabbitmq-server (3.10, plugin rabbitmq_mqtt: MQTT 3.1.1), N nodes
 * (default 3) in one temp folder, joined with `rabbitmqctl join_cluster`.
 *
 * Everything is the cluster's own, so it runs beside other tests and other
 * clusters: node names rabbit1@localhost … (one Erlang distribution per epmd,
 * and the epmd is ours: started here on a free port, ERL_EPMD_PORT), free
 * AMQP / MQTT / distribution ports, its own RABBITMQ_MNESIA_BASE, LOG_BASE,
 * CONFIG_FILE and enabled_plugins file, its own Erlang cookie (HOME is the
 * temp folder), no management plugin. MQTT durable queues are quorum queues
 * (`mqtt.durable_queue_type = quorum`), so a persistent session outlives the
 * node its client was on.
 *
 * Processes are tracked by PID: each node's beam (from its pid file) and the
 * script that started it, and epmd. `stop()` ends them all (SIGTERM, then
 * SIGKILL after a bound) and removes the folder; `kill(i)` is a node crash
 * (SIGKILL of its beam). Start is bounded (`startTimeoutMs`, default 240 s on
 * this loaded machine) and fails with the node's last log lines.
 *
 * When rabbitmq-server is not installed: under CI (env CI set)
 * `startRabbitCluster` throws, so the tier fails; outside CI
 * `rabbitmqSkipReason()` returns (and prints) why the tier skips.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./mosquitto.js";

/** Debian installs the real scripts here; /usr/sbin has wrappers that switch to the rabbitmq user when run as root. */
const RABBIT_BIN = "/usr/lib/rabbitmq/bin";

export interface RabbitNode {
  /** 1-based, as in the node name. */
  readonly index: number;
  /** rabbitN@localhost */
  readonly name: string;
  readonly amqpPort: number;
  readonly mqttPort: number;
  readonly distPort: number;
  /** mqtt://127.0.0.1:<mqttPort> */
  readonly url: string;
  /** PID of the node's Erlang VM (beam.smp); undefined once it is gone. */
  readonly pid: number | undefined;
  /** True until the node was killed or stopped. */
  readonly alive: boolean;
}

export interface RabbitCluster {
  readonly nodes: readonly RabbitNode[];
  readonly dir: string;
  readonly epmdPort: number;
  /** The MQTT URLs of the nodes still alive, in node order. */
  urls(): string[];
  /** A node crash: SIGKILL of its beam (no shutdown, no will published by it). Resolves once it is gone. */
  kill(index: number): Promise<void>;
  /** `rabbitmqctl` against node `index` (1-based); rejects with its output on a non-zero exit. */
  ctl(index: number, args: string[], timeoutMs?: number): Promise<string>;
  /** The last lines of a node's log (for failure messages). */
  log(index: number, lines?: number): string;
  /** Stops every node and epmd by PID and removes the folder. */
  stop(): Promise<void>;
}

export interface RabbitClusterOptions {
  /** Nodes, default 3. */
  nodes?: number;
  /** Bound of the whole start (nodes up, cluster joined), ms. Default 240000 (three Erlang VMs and three rabbitmqctl runs on a loaded 2-core machine). */
  startTimeoutMs?: number;
  /** Extra rabbitmq.conf lines for every node. */
  extraConfig?: string[];
}

export function findRabbitmq(): string | undefined {
  const server = join(RABBIT_BIN, "rabbitmq-server");
  return existsSync(server) && existsSync(join(RABBIT_BIN, "rabbitmqctl")) && findEpmd() !== undefined ? server : undefined;
}

function findEpmd(): string | undefined {
  for (const dir of ["/usr/bin", ...(process.env.PATH ?? "").split(":")]) if (dir && existsSync(join(dir, "epmd"))) return join(dir, "epmd");
  try {
    for (const e of readdirSync("/usr/lib/erlang")) if (e.startsWith("erts-") && existsSync(join("/usr/lib/erlang", e, "bin", "epmd"))) return join("/usr/lib/erlang", e, "bin", "epmd");
  } catch {
    // no Erlang at all
  }
  return undefined;
}

/** undefined when the tier may run; a reason to skip otherwise (never under CI: there the tier must fail). */
export function rabbitmqSkipReason(): string | undefined {
  if (findRabbitmq() !== undefined || process.env.CI) return undefined;
  const reason = "rabbitmq-server is not installed (apt-get install rabbitmq-server); skipping the cluster tier";
  console.log(reason);
  return reason;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to `pid` if it still runs; waits (bounded) until it is gone, SIGKILL at the bound. */
async function endPid(pid: number | undefined, signal: NodeJS.Signals, boundMs: number): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid!, signal);
  } catch {
    return;
  }
  const until = Date.now() + boundMs;
  for (let i = 0; i < 400 && alive(pid) && Date.now() < until; i++) await sleep(50);
  if (alive(pid)) {
    try {
      process.kill(pid!, "SIGKILL");
    } catch {
      // gone meanwhile
    }
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
  }
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const c = tcpConnect({ port, host: "127.0.0.1" });
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

interface NodeState {
  index: number;
  name: string;
  amqpPort: number;
  mqttPort: number;
  distPort: number;
  url: string;
  pid: number | undefined;
  alive: boolean;
  script: ChildProcess | undefined;
  pidFile: string;
  logDir: string;
  output: string[];
}

export async function startRabbitCluster(options: RabbitClusterOptions = {}): Promise<RabbitCluster> {
  const server = findRabbitmq();
  if (server === undefined) throw new Error("rabbitmq-server is not installed (apt-get install rabbitmq-server)");
  const count = options.nodes ?? 3;
  const startBound = options.startTimeoutMs ?? 240_000;
  const startedAt = Date.now();
  const left = () => startBound - (Date.now() - startedAt);
  const dir = mkdtempSync(join(tmpdir(), "mote-rabbit-"));
  // The Erlang cookie of this cluster: nodes and rabbitmqctl read $HOME/.erlang.cookie (mode 0400).
  writeFileSync(join(dir, ".erlang.cookie"), randomBytes(20).toString("hex").toUpperCase());
  chmodSync(join(dir, ".erlang.cookie"), 0o400);
  const envFile = join(dir, "rabbitmq-env.conf");
  writeFileSync(envFile, "# this cluster's own: /etc/rabbitmq/rabbitmq-env.conf is not read\n");
  writeFileSync(join(dir, "enabled_plugins"), "[rabbitmq_mqtt].\n");

  const epmdPort = await freePort();
  const ctlPort = await freePort();
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    HOME: dir,
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: "127.0.0.1",
    RABBITMQ_CONF_ENV_FILE: envFile,
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, "enabled_plugins"),
    // rabbitmqctl's own distribution port: one, chosen free (the default range 35672.. is shared by everyone)
    RABBITMQ_CTL_DIST_PORT_MIN: String(ctlPort),
    RABBITMQ_CTL_DIST_PORT_MAX: String(ctlPort),
  };

  const nodes: NodeState[] = [];
  let epmd: ChildProcess | undefined;
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(
      nodes.map(async (n) => {
        n.alive = false;
        await endPid(n.pid, "SIGTERM", 15_000);
        await endPid(n.script?.pid, "SIGTERM", 5_000);
        n.pid = undefined;
      }),
    );
    await endPid(epmd?.pid, "SIGTERM", 5_000);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }); // a node may still be writing its logs
  };

  const logTail = (n: NodeState, lines = 30): string => {
    let text = n.output.join("");
    try {
      for (const f of readdirSync(n.logDir)) if (f.endsWith(".log")) text += readFileSync(join(n.logDir, f), "utf8");
    } catch {
      // no log yet
    }
    return text.split("\n").slice(-lines).join("\n");
  };

  const ctl = (index: number, args: string[], timeoutMs = 60_000): Promise<string> => {
    const n = nodes[index - 1];
    return new Promise((resolve, reject) => {
      const child = spawn(join(RABBIT_BIN, "rabbitmqctl"), ["-n", n.name, ...args], { env: base, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout!.on("data", (d) => (out += d));
      child.stderr!.on("data", (d) => (out += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), Math.max(1000, timeoutMs));
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`rabbitmqctl ${args.join(" ")} on ${n.name}: ${signal ? `killed after ${timeoutMs} ms` : `exit ${code}`}\n${out.trim()}`));
      });
    });
  };

  /** Waits until the node's MQTT listener accepts connections (the plugin booted). */
  const waitUp = async (n: NodeState, what: string): Promise<void> => {
    for (let i = 0; i < 100_000; i++) {
      if (left() <= 0) throw new Error(`rabbitmq: ${n.name} not ${what} within ${startBound} ms\n${logTail(n)}`);
      if (n.pid === undefined && existsSync(n.pidFile)) {
        const pid = Number(readFileSync(n.pidFile, "utf8").trim());
        if (Number.isInteger(pid) && pid > 0) n.pid = pid;
      }
      if (n.script !== undefined && n.script.exitCode !== null && !alive(n.pid))
        throw new Error(`rabbitmq: ${n.name} exited (${n.script.exitCode}) before it was ${what}\n${logTail(n)}`);
      if (n.pid !== undefined && (await portOpen(n.mqttPort))) return;
      await sleep(200);
    }
  };

  /**
   * `join_cluster` from node `n` to node 1, tried up to 4 times: on a loaded 2-core machine
   * node 1 has once been unreachable from node 2 for a moment although its MQTT listener was
   * up ("unable to perform an operation on node rabbit1@localhost", CI run of stop 24). Before
   * a retry node 1 is pinged and must pass `await_startup`; the last error carries both nodes' logs.
   */
  const joinWithRetry = async (n: NodeState): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await ctl(n.index, ["join_cluster", nodes[0].name], left());
        return;
      } catch (e) {
        if (attempt >= 4 || left() <= 5_000)
          throw new Error(`${(e as Error).message}\n-- ${nodes[0].name} log --\n${logTail(nodes[0])}\n-- ${n.name} log --\n${logTail(n)}`);
        console.log(`rabbitmq: join_cluster ${n.name} → ${nodes[0].name} failed (attempt ${attempt} of 4), retrying: ${(e as Error).message.split("\n")[0]}`);
        await sleep(1_000 * attempt);
        await ctl(1, ["ping"], left()).catch(() => undefined);
        await ctl(1, ["await_startup"], left());
      }
    }
  };

  try {
    epmd = spawn(findEpmd()!, ["-port", String(epmdPort), "-address", "127.0.0.1"], { env: base, stdio: "ignore" });
    for (let i = 0; i < 100 && !(await portOpen(epmdPort)); i++) {
      if (epmd.exitCode !== null) throw new Error(`rabbitmq: epmd exited (${epmd.exitCode}) on port ${epmdPort}`);
      await sleep(50);
    }

    for (let i = 1; i <= count; i++) {
      const nodeDir = join(dir, `rabbit${i}`);
      mkdirSync(nodeDir, { recursive: true });
      const n: NodeState = {
        index: i,
        name: `rabbit${i}@localhost`,
        amqpPort: await freePort(),
        mqttPort: await freePort(),
        distPort: await freePort(),
        url: "",
        pid: undefined,
        alive: true,
        script: undefined,
        pidFile: join(nodeDir, "pid"),
        logDir: join(nodeDir, "log"),
        output: [],
      };
      n.url = `mqtt://127.0.0.1:${n.mqttPort}`;
      const config = join(nodeDir, "rabbitmq.conf");
      writeFileSync(
        config,
        [
          // loopback only (a bare port, listeners.tcp.default, would bind every interface)
          `listeners.tcp.1 = 127.0.0.1:${n.amqpPort}`,
          `mqtt.listeners.tcp.1 = 127.0.0.1:${n.mqttPort}`,
          "mqtt.allow_anonymous = true",
          "mqtt.durable_queue_type = quorum",
          "loopback_users = none",
          "log.console = false",
          "log.file.level = info",
          ...(options.extraConfig ?? []),
          "",
        ].join("\n"),
      );
      nodes.push(n);
      const env: NodeJS.ProcessEnv = {
        ...base,
        RABBITMQ_NODENAME: n.name,
        RABBITMQ_USE_LONGNAME: "false",
        RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
        RABBITMQ_NODE_PORT: String(n.amqpPort),
        RABBITMQ_DIST_PORT: String(n.distPort),
        RABBITMQ_MNESIA_BASE: join(nodeDir, "mnesia"),
        RABBITMQ_LOG_BASE: n.logDir,
        RABBITMQ_CONFIG_FILE: config,
        RABBITMQ_PID_FILE: n.pidFile,
        // the distribution listens on loopback only
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
      };
      const script = spawn(server, [], { env, cwd: nodeDir, stdio: ["ignore", "pipe", "pipe"] });
      n.script = script;
      const keep = (d: Buffer) => {
        n.output.push(d.toString());
        if (n.output.length > 200) n.output.shift();
      };
      script.stdout!.on("data", keep);
      script.stderr!.on("data", keep);
      script.once("exit", () => {
        if (!alive(n.pid)) n.alive = false;
      });
    }
    await Promise.all(nodes.map((n) => waitUp(n, "up")));

    // Nodes 2..N join node 1 (https://www.rabbitmq.com/clustering.html: stop_app, join_cluster, start_app).
    for (const n of nodes.slice(1)) {
      await ctl(n.index, ["stop_app"], left());
      await joinWithRetry(n);
      await ctl(n.index, ["start_app"], left());
      await waitUp(n, "back up after join_cluster");
    }
    const status = await ctl(1, ["cluster_status", "--formatter", "json"], left());
    const running = (JSON.parse(status.slice(status.indexOf("{"))) as { running_nodes?: string[] }).running_nodes ?? [];
    if (running.length !== count) throw new Error(`rabbitmq: cluster has ${running.length} running nodes, expected ${count}: ${running.join(", ")}`);
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    nodes: nodes as readonly RabbitNode[],
    dir,
    epmdPort,
    urls: () => nodes.filter((n) => n.alive).map((n) => n.url),
    async kill(index) {
      const n = nodes[index - 1];
      n.alive = false;
      await endPid(n.pid, "SIGKILL", 5_000);
      n.pid = undefined;
      await endPid(n.script?.pid, "SIGTERM", 5_000);
    },
    ctl,
    log: (index, lines) => logTail(nodes[index - 1], lines),
    stop,
  };
}
