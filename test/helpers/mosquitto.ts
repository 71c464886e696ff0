/**
 * Starts a real mosquitto broker for interop tests: a free port on
 * 127.0.0.1, a temp config with persistence on, optional password file.
 * `restart()` stops it (SIGTERM, so it writes its persistence file) and
 * starts it again on the same port with the same persistence folder.
 *
 * When mosquitto is not installed: under CI (env CI set) `startMosquitto`
 * throws, so the test fails; outside CI `mosquittoSkipReason()` tells the
 * test to skip, and the reason is printed.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Mosquitto {
  readonly port: number;
  readonly dir: string;
  readonly url: string;
  /** stderr/stdout lines so far (for failure messages). */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
  restart(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it and removes the temp folder. */
  close(): Promise<void>;
}

export interface MosquittoOptions {
  users?: { username: string; password: string }[];
  extraConfig?: string[];
}

export function findMosquitto(): string | undefined {
  if (existsSync("/usr/sbin/mosquitto")) return "/usr/sbin/mosquitto";
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, "mosquitto"))) return join(dir, "mosquitto");
  }
  return undefined;
}

/** undefined when tests may run; a reason to skip otherwise (never under CI: there the test must fail). */
export function mosquittoSkipReason(): string | undefined {
  if (findMosquitto() !== undefined || process.env.CI) return undefined;
  const reason = "mosquitto is not installed (apt-get install mosquitto); skipping mosquitto interop tests";
  console.log(reason);
  return reason;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (let i = 0; i < 200 && Date.now() < until; i++) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = tcpConnect({ port, host: "127.0.0.1" });
      c.once("connect", () => {
        c.destroy();
        resolve(true);
      });
      c.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`mosquitto did not listen on ${port} within ${deadlineMs} ms`);
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const bin = findMosquitto();
  if (bin === undefined) throw new Error("mosquitto is not installed (apt-get install mosquitto)");
  const dir = mkdtempSync(join(tmpdir(), "mote-mosquitto-"));
  const port = await freePort();
  const conf = [
    `listener ${port} 127.0.0.1`,
    `persistence true`,
    `persistence_location ${dir}/`,
    `autosave_interval 1`,
    `log_dest stderr`,
    `log_type error`,
    `log_type warning`,
    `max_inflight_messages 20`,
    `max_queued_messages 20000`,
  ];
  // as root, mosquitto drops to user "mosquitto", which cannot use our private temp folder
  if (process.getuid?.() === 0) conf.push("user root");
  if (options.users?.length) {
    const pw = join(dir, "passwd");
    writeFileSync(pw, "");
    for (const u of options.users) {
      const r = spawnSync("mosquitto_passwd", ["-b", pw, u.username, u.password]);
      if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
    }
    conf.push(`allow_anonymous false`, `password_file ${pw}`);
  } else conf.push(`allow_anonymous true`);
  conf.push(...(options.extraConfig ?? []));
  const confFile = join(dir, "mosquitto.conf");
  writeFileSync(confFile, conf.join("\n") + "\n");
  let child: ChildProcess | undefined;
  let out = "";
  const m: Mosquitto = {
    port,
    dir,
    url: `mqtt://127.0.0.1:${port}`,
    output: () => out,
    async start() {
      const c = spawn(bin, ["-c", confFile], { stdio: ["ignore", "pipe", "pipe"] });
      child = c;
      c.stdout!.on("data", (d) => (out += d));
      c.stderr!.on("data", (d) => (out += d));
      await waitForPort(port, c, 10_000);
    },
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      const c = child;
      child = undefined;
      if (c === undefined || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => c.kill("SIGKILL"), 5000);
        c.once("exit", () => {
          clearTimeout(t);
          resolve();
        });
        c.kill(signal);
      });
    },
    async restart(signal?: NodeJS.Signals) {
      await m.stop(signal);
      await m.start();
    },
    async close() {
      await m.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await m.start();
  return m;
}

/** undefined when openssl is there (or under CI, where its absence must fail the test); else a printed reason to skip. */
export function opensslSkipReason(): string | undefined {
  if (spawnSync("openssl", ["version"]).status === 0 || process.env.CI) return undefined;
  const reason = "openssl is not installed (apt-get install openssl); skipping TLS tests";
  console.log(reason);
  return reason;
}

/** Paths of the files makeTlsFiles writes. */
export interface TlsFiles {
  readonly dir: string;
  /** The test CA, PEM and DER. */
  readonly caPem: string;
  readonly caDer: string;
  /** A CA that signed nothing the broker sends. */
  readonly otherCaPem: string;
  /** Server certificate for 127.0.0.1 and localhost (subjectAltName), signed by the CA, and its key. */
  readonly serverCert: string;
  readonly serverKey: string;
  /** Server certificate for wrong.example / 10.0.0.1 only, signed by the same CA, and its key. */
  readonly wrongHostCert: string;
  readonly wrongHostKey: string;
}

/**
 * Makes a test CA (RSA 2048, valid 2 days) and server certificates with
 * openssl into `dir`. Throws with openssl's message when a step fails.
 */
export function makeTlsFiles(dir: string): TlsFiles {
  const openssl = (args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
  };
  const key = ["-newkey", "rsa:2048", "-nodes"];
  for (const ca of ["ca", "other-ca"]) openssl(["req", "-x509", ...key, "-keyout", `${ca}.key`, "-out", `${ca}.pem`, "-days", "2", "-subj", `/CN=mote test ${ca}`]);
  openssl(["x509", "-in", "ca.pem", "-outform", "der", "-out", "ca.der"]);
  const leaves: [string, string, string][] = [
    ["server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"],
    ["wrong-host", "wrong.example", "subjectAltName=IP:10.0.0.1,DNS:wrong.example\n"],
  ];
  for (const [name, cn, san] of leaves) {
    writeFileSync(join(dir, `${name}.ext`), san);
    openssl(["req", ...key, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`]);
  }
  return {
    dir,
    caPem: join(dir, "ca.pem"),
    caDer: join(dir, "ca.der"),
    otherCaPem: join(dir, "other-ca.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    wrongHostCert: join(dir, "wrong-host.pem"),
    wrongHostKey: join(dir, "wrong-host.key"),
  };
}

/**
 * mosquitto configuration lines for a TLS listener on 127.0.0.1:`port` with
 * `cert`/`key`. `cafile` is set too: mosquitto (OpenSSL) then sends the CA
 * after the server certificate, as brokers with a chain do; Moddable's TLS
 * needs the issuer in the chain the server sends (docs/moddable.md).
 */
export function tlsListener(port: number, files: TlsFiles, cert: string, key: string): string[] {
  return [`listener ${port} 127.0.0.1`, `cafile ${files.caPem}`, `certfile ${cert}`, `keyfile ${key}`];
}
