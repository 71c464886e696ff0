/**
 * libcoap's command-line peers for interop tests: `coap-server-notls` and
 * `coap-client-notls` (Debian package libcoap3-bin).
 *
 * When a binary is missing, `requireLibcoap()` throws if env CI is set (the
 * test must fail there) and otherwise returns a reason for `test.skipIf`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";

export const SERVER_BIN = "coap-server-notls";
export const CLIENT_BIN = "coap-client-notls";

function onPath(bin: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" }).status === 0;
}

/** undefined when both tools are installed; a printed reason when not (outside CI). Throws under CI. */
export function libcoapMissing(): string | undefined {
  const missing = [SERVER_BIN, CLIENT_BIN].filter((b) => !onPath(b));
  if (missing.length === 0) return undefined;
  const reason = `${missing.join(", ")} not installed (apt-get install libcoap3-bin)`;
  if (process.env.CI) throw new Error(`CI: ${reason}`);
  console.warn(`skipping libcoap interop: ${reason}`);
  return reason;
}

/** A UDP port that was free a moment ago on 127.0.0.1. */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", () => resolve()));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface LibcoapServer {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts `coap-server-notls -A 127.0.0.1 -p PORT -d 20` and waits until it answers. */
export async function startLibcoapServer(): Promise<LibcoapServer> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeUdpPort();
    const child = spawn(SERVER_BIN, ["-A", "127.0.0.1", "-p", String(port), "-d", "20", "-v", "0"], { stdio: ["ignore", "ignore", "pipe"] });
    let exited = false;
    child.on("exit", () => (exited = true));
    const url = `coap://127.0.0.1:${port}`;
    for (let i = 0; i < 40 && !exited; i++) {
      const r = await runLibcoapClient(["-m", "get", "-B", "1", `${url}/time`]);
      if (r.code === 0 && r.stdout.length > 0) return { port, url, stop: () => stopChild(child) };
      await new Promise((res) => setTimeout(res, 50));
    }
    await stopChild(child);
  }
  throw new Error("coap-server-notls did not start");
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill("SIGKILL"), 2000);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

export interface ClientRun {
  code: number | null;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

/** Runs `coap-client-notls ARGS` (bounded: killed after `timeoutMs`). */
export function runLibcoapClient(args: string[], timeoutMs = 20_000): Promise<ClientRun> {
  return new Promise((resolve) => {
    const child = spawn(CLIENT_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => err.push(d));
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(t);
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, stdout: stdoutBytes.toString("utf8"), stdoutBytes, stderr: Buffer.concat(err).toString("utf8") });
    });
  });
}

import { lookup } from "node:dns";
import type { CoapHost } from "../../src/coap/driver.js";

/**
 * A CoapHost straight over node:dgram (for interop tests written before
 * src/platform existed; the tests prefer platformHost()).
 */
export function nodeUdpHost(): CoapHost {
  const start = performance.now();
  return {
    now: () => performance.now() - start,
    random: () => Math.random(),
    openUdp(o) {
      const s = createSocket("udp4");
      let port = 0;
      s.on("message", (msg, rinfo) => o.onPacket(new Uint8Array(msg), rinfo.address, rinfo.port));
      s.on("error", (e) => o.onError?.("error", e.message));
      s.bind(o.port ?? 0, o.address);
      s.once("listening", () => (port = s.address().port));
      return {
        get port() {
          return port;
        },
        send: (data, address, p) => s.send(data, p, address),
        close: () => s.close(),
      };
    },
    resolveHost(host, cb) {
      lookup(host, { family: 4 }, (err, address) => (err ? cb(undefined, "dns") : cb(address)));
    },
    createAlarm(onAlarm) {
      let t: NodeJS.Timeout | undefined;
      return {
        arm(deadline) {
          if (t) clearTimeout(t);
          t = undefined;
          if (deadline === undefined) return;
          t = setTimeout(onAlarm, Math.max(0, deadline - (performance.now() - start)));
        },
        close() {
          if (t) clearTimeout(t);
          t = undefined;
        },
      };
    },
  };
}

/** The platform host (src/platform over host-shim/node) when it exists, else node:dgram directly. */
export async function testHost(): Promise<CoapHost> {
  const { existsSync } = await import("node:fs");
  const hostFile = new URL("../../src/coap/host.ts", import.meta.url);
  if (existsSync(hostFile)) {
    const mod = (await import(/* @vite-ignore */ hostFile.href)) as { platformHost(): CoapHost };
    return mod.platformHost();
  }
  return nodeUdpHost();
}
