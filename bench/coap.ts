/**
 * CoAP benchmarks (npm run bench -- coap [--json]):
 *  - download_1MB_block2: 1 MiB Block2 download over loopback from libcoap's
 *    coap-server (resource PUT first), mote (Node engine) vs coap-client-notls,
 *    same run; ratio = peer_ms / mote_ms (> 1: mote faster). Also inside XS,
 *    with the XS heap sampled during the transfer (xsnap, through the bridge), and
 *    on Moddable's own runtime (mcconfig -m -i -p lin, headless mchost:
 *    bench/coap-moddable-entry.ts) against coap-client-notls rounds interleaved in
 *    the same run, with the transport floors there (a bare request loop on
 *    src/platform/udp.ts and on the host socket itself) and the in-memory cores.
 *  - get_round_trips: sequential confirmable GETs per second against the same
 *    server, mote vs node-coap's client.
 *  - bundle_minified: a CoAP-only device bundle (src/coap/index.ts).
 */
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleForXs, projectRoot, startXs } from "../host-shim/xs/engine.js";
import { CoapClient } from "../src/coap/client.js";
import { decodeMessage, encodeBlock, encodeMessage, Option } from "../src/coap/codec.js";
import { encodeUtf8 } from "../src/util/utf8.js";
import { platformHost } from "../src/coap/host.js";
import { round, type Emit } from "./lib.js";
import { buildManifest } from "../host-shim/moddable/build.js";
import { runModdable, writePreferences } from "../host-shim/moddable/run.js";
import { findModdable } from "../host-shim/moddable/sdk.js";

const require = createRequire(import.meta.url);
const SIZE = 1 << 20;

function runCmd(cmd: string, args: string[], timeoutMs = 120_000): Promise<{ code: number | null; ms: number; stderr: string }> {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(t);
      resolve({ code: -1, ms: 0, stderr: String(e) });
    });
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, ms: performance.now() - start, stderr });
    });
  });
}

async function freePort(): Promise<number> {
  const { createSocket } = await import("node:dgram");
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

export async function startLibcoap(): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const child = spawn("coap-server-notls", ["-A", "127.0.0.1", "-p", String(port), "-d", "20", "-v", "0"], { stdio: "ignore" });
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    setTimeout(resolve, 300);
  });
  return { url: `coap://127.0.0.1:${port}`, stop: () => child.kill("SIGKILL") };
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function moteDownload(client: CoapClient, url: string): Promise<number> {
  let bytes = 0;
  const start = performance.now();
  await client.download(url, (d) => (bytes += d.length));
  const ms = performance.now() - start;
  if (bytes !== SIZE) throw new Error(`mote downloaded ${bytes} bytes`);
  return ms;
}

/** 1 MiB as 1,024 sequential Block2 GETs on a bare node:dgram socket (the event-loop floor). */
async function bareDgramDownload(url: string): Promise<number> {
  const { createSocket } = await import("node:dgram");
  const [, , hostPort, ...path] = url.split("/");
  const [host, port] = [hostPort.split(":")[0], Number(hostPort.split(":")[1])];
  const sock = createSocket("udp4");
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", () => resolve()));
  const uriPath = path.map((p) => ({ number: Option.UriPath, value: encodeUtf8(p) }));
  let bytes = 0;
  const start = performance.now();
  for (let num = 0; num < SIZE / 1024; num++) {
    const request = encodeMessage({
      type: "CON",
      code: 1,
      messageId: num & 0xffff,
      token: new Uint8Array([num & 255, num >> 8]),
      options: [...uriPath, { number: Option.Block2, value: encodeBlock({ num, more: false, szx: 6 }) }],
      payload: new Uint8Array(0),
    });
    bytes += await new Promise<number>((resolve) => {
      sock.once("message", (m) => resolve(decodeMessage(new Uint8Array(m)).payload.length));
      sock.send(request, port, host);
    });
  }
  const ms = performance.now() - start;
  sock.close();
  if (bytes !== SIZE) throw new Error(`bare loop got ${bytes} bytes`);
  return ms;
}

/** Writes the Moddable program (bench/coap-moddable-entry.ts bundled, host modules external) and returns its manifest. */
export async function moddableProgram(): Promise<string> {
  const esbuild = await import("esbuild");
  const modules = JSON.parse(readFileSync(join(projectRoot(), "host-shim", "modules.json"), "utf8")) as Record<string, string>;
  const dir = join(projectRoot(), ".moddable", "src", "coap-bench");
  mkdirSync(dir, { recursive: true });
  const r = await esbuild.build({
    entryPoints: [join(projectRoot(), "bench", "coap-moddable-entry.ts")],
    bundle: true,
    format: "esm",
    target: "es2022",
    write: false,
    external: Object.keys(modules).filter((k) => k !== "//"),
    logLevel: "silent",
  });
  // written only when changed, so mcconfig's make stays incremental
  const put = (file: string, text: string): void => {
    if (!existsSync(file) || readFileSync(file, "utf8") !== text) writeFileSync(file, text);
  };
  put(join(dir, "main.js"), r.outputFiles[0].text);
  const manifest = { include: ["$(MOTE)/manifest_host.json"], modules: { "*": ["./main"] }, creation: { stack: 640 } };
  put(join(dir, "manifest.json"), JSON.stringify(manifest, null, 2));
  return join(dir, "manifest.json");
}

/**
 * 1 MiB Block2 on Moddable's runtime (mcconfig -m -i -p lin, headless mchost): rounds of
 * mote's client, libcoap's coap-client-notls, the bare platform-socket loop and the
 * in-memory cores, one at a time, interleaved, from the same server.
 */
const MODDABLE_PLATFORM = "Moddable 8.2.3 lin, mcconfig -m -i, mchost";

export async function moddableDownload(url: string, dir: string, emit: Emit): Promise<void> {
  const sdk = findModdable();
  if (typeof sdk === "string") {
    if (process.env.CI) throw new Error(`Moddable SDK: ${sdk}`);
    emit({ metric: "download_1MB_block2_moddable_ms", unit: "ms", mote: NaN, engine: "xs", peer: `skipped: ${sdk}` });
    return;
  }
  const so = await buildManifest(await moddableProgram(), join(projectRoot(), ".moddable", "coap-bench"), sdk);
  const control = await freePort();
  const cwd = mkdtempSync(join(tmpdir(), "mote-bench-coap-mod-"));
  writePreferences(cwd, { bench: { url, control } });
  // Each "coap-round" line the program prints answers the one round asked for.
  let answer: ((line: string) => void) | undefined;
  const run = runModdable(so, sdk, { cwd, onLine: (l) => l.startsWith("coap-round ") && answer?.(l) });
  const ctl = createSocket("udp4");
  try {
    await run.waitFor(/coap-ready/, 30_000);
    const ask = async (kind: string): Promise<number> => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const line = await new Promise<string>((resolve, reject) => {
        answer = resolve;
        timer = setTimeout(() => reject(new Error(`Moddable ${kind} round: no answer in 60 s; last lines:\n${run.lines.slice(-10).join("\n")}`)), 60_000);
        ctl.send(kind, control, "127.0.0.1");
      }).finally(() => clearTimeout(timer));
      answer = undefined;
      const [, k, ms, bytes] = line.split(" ");
      if (k !== kind || Number(bytes) !== SIZE) throw new Error(`Moddable ${kind} round: ${line}`);
      return Number(ms);
    };
    const rounds: Record<string, number[]> = { mote: [], peer: [], bare: [], raw: [], core: [] };
    for (let i = 0; i < 2; i++) await ask("mote"); // warm-up
    for (let i = 0; i < 7; i++) {
      rounds.mote.push(await ask("mote"));
      const r = await runCmd("coap-client-notls", ["-m", "get", "-b", "1024", "-B", "60", "-o", join(dir, "out.bin"), url]);
      if (r.code !== 0) throw new Error("coap-client-notls GET failed");
      rounds.peer.push(r.ms);
      if (i < 3) rounds.bare.push(await ask("bare"));
      if (i < 3) rounds.raw.push(await ask("raw"));
      if (i < 3) rounds.core.push(await ask("core"));
    }
    const m = median(rounds.mote);
    const p = median(rounds.peer);
    emit({
      metric: "download_1MB_block2_moddable_ms",
      unit: "ms",
      mote: round(m),
      peer: "coap-client-notls",
      peer_value: round(p),
      ratio: round(p / m),
      engine: "xs",
      platform: MODDABLE_PLATFORM,
      rounds: rounds.mote.length,
      mote_rounds: rounds.mote.join(" "),
      peer_rounds: rounds.peer.map((x) => Math.round(x)).join(" "),
    });
    emit({
      metric: "download_1MB_block2_moddable_vs_bare_platform_udp",
      unit: "ms",
      mote: round(m),
      peer: "bare request loop on src/platform/udp, same XS",
      peer_value: median(rounds.bare),
      ratio: round(median(rounds.bare) / m),
      engine: "xs",
      platform: MODDABLE_PLATFORM,
    });
    emit({ metric: "download_1MB_block2_moddable_raw_host_udp_ms", unit: "ms", mote: median(rounds.raw), engine: "xs", platform: MODDABLE_PLATFORM, note: "the bare loop on the host socket without src/platform/udp.ts" });
    emit({ metric: "core_block2_1MB_both_ends_moddable_ms", unit: "ms", mote: median(rounds.core), engine: "xs", platform: MODDABLE_PLATFORM });
  } finally {
    ctl.close();
    await run.kill();
    rmSync(cwd, { recursive: true, force: true });
  }
}

async function bundleSize(): Promise<number> {
  const esbuild = await import("esbuild");
  const modules = JSON.parse(readFileSync(join(projectRoot(), "host-shim", "modules.json"), "utf8")) as Record<string, string>;
  const r = await esbuild.build({
    entryPoints: [join(projectRoot(), "src", "coap", "index.ts")],
    bundle: true,
    minify: true,
    write: false,
    format: "esm",
    target: "es2022",
    external: Object.keys(modules).filter((k) => k !== "//"),
    logLevel: "silent",
  });
  return r.outputFiles[0].contents.length;
}

export async function run(emit: Emit): Promise<void> {
  try {
    emit({ metric: "bundle_minified", unit: "bytes", mote: await bundleSize() });
  } catch (e) {
    emit({ metric: "bundle_minified", unit: "bytes", mote: NaN, peer: `unavailable: ${String(e).slice(0, 80)}` });
  }

  let server: { url: string; stop(): void } | undefined;
  const dir = mkdtempSync(join(tmpdir(), "mote-coap-bench-"));
  try {
    server = await startLibcoap();
    const file = join(dir, "1m.bin");
    writeFileSync(file, new Uint8Array(SIZE).map((_, i) => (i * 7 + (i >> 8)) & 0xff));
    const put = await runCmd("coap-client-notls", ["-m", "put", "-b", "1024", "-f", file, `${server.url}/bench1m`]);
    if (put.code !== 0) throw new Error(`PUT 1 MiB failed: ${put.stderr.slice(0, 100)}`);
    const url = `${server.url}/bench1m`;

    // 1 MiB Block2 download: alternate mote and libcoap, 7 rounds each, medians (mins as extra fields).
    const client = new CoapClient({ host: platformHost() });
    const moteMs: number[] = [];
    const peerMs: number[] = [];
    for (let i = 0; i < 3; i++) await moteDownload(client, url); // warm-up (JIT)
    for (let i = 0; i < 7; i++) {
      moteMs.push(await moteDownload(client, url));
      const r = await runCmd("coap-client-notls", ["-m", "get", "-b", "1024", "-B", "60", "-o", join(dir, "out.bin"), url]);
      if (r.code !== 0) throw new Error("coap-client-notls GET failed");
      peerMs.push(r.ms);
    }
    const m = median(moteMs);
    const p = median(peerMs);
    emit({
      metric: "download_1MB_block2_ms",
      unit: "ms",
      mote: round(m),
      peer: "coap-client-notls",
      peer_value: round(p),
      ratio: round(p / m),
      engine: "node",
      rounds: moteMs.length,
      mote_min: round(Math.min(...moteMs)),
      peer_min: round(Math.min(...peerMs)),
    });

    // The floor Node itself sets: the same 1,024 Block2 requests from a bare node:dgram
    // loop (no CoAP stack: encode, send, wait for the answer, next). A C client like
    // libcoap's is not bound by Node's event loop; this figure shows how much of the
    // gap to it is mote's (ratio > 1: mote is faster than the bare loop).
    const floorMs: number[] = [];
    for (let i = 0; i < 5; i++) floorMs.push(await bareDgramDownload(url));
    emit({
      metric: "download_1MB_block2_vs_bare_node_udp",
      unit: "ms",
      mote: round(m),
      peer: "bare node:dgram request loop",
      peer_value: round(median(floorMs)),
      ratio: round(median(floorMs) / m),
      engine: "node",
    });

    // Sequential GET round trips vs node-coap's client (same server, same resource).
    const rtUrl = `${server.url}/time`;
    const mote = await roundTrips(() => client.get(rtUrl).then((r) => r.ok));
    const coap = require("coap") as typeof import("coap");
    const agent = new coap.Agent({ type: "udp4" });
    const port = Number(server.url.split(":")[2]);
    const nodeCoap = await roundTrips(
      () =>
        new Promise<boolean>((resolve, reject) => {
          const req = coap.request({ hostname: "127.0.0.1", port, pathname: "/time", agent });
          req.on("response", (res) => resolve(res.code === "2.05"));
          req.on("error", reject);
          req.end();
        }),
    );
    agent.close?.();
    client.close();
    emit({ metric: "get_round_trips", unit: "requests/s", mote: round(mote), peer: "node-coap", peer_value: round(nodeCoap), ratio: round(mote / nodeCoap), engine: "node" });

    // The same download on Moddable's runtime: the engine that goes on the chip.
    await moddableDownload(url, dir, emit);

    // The same 1 MiB download inside XS (the xsnap bridge), sampling the heap while it runs.
    const xs = await startXs({ bundle: await bundleForXs(join(projectRoot(), "test", "xs", "coap-entry.ts")), stdio: "ignore" });
    try {
      const base = await xs.meters();
      const start = performance.now();
      let peak = base.heapBytes;
      let done = false;
      const call = xs.call("coapDownload", { url }).finally(() => (done = true));
      for (let i = 0; i < 10_000 && !done; i++) {
        await new Promise((r) => setTimeout(r, 100));
        if (done) break;
        peak = Math.max(peak, (await xs.meters()).heapBytes);
      }
      const r = (await call) as { bytes: number };
      const xsMs = performance.now() - start;
      if (r.bytes !== SIZE) throw new Error(`XS downloaded ${r.bytes} bytes`);
      emit({ metric: "download_1MB_block2_ms", unit: "ms", mote: round(xsMs), peer: "coap-client-notls", peer_value: round(p), ratio: round(p / xsMs), engine: "xs" });
      // The sans-I/O cores alone in XS (client + server endpoints back to back, no sockets, no bridge).
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        const n = (await xs.call("coapCoreDownload", { size: SIZE })) as number;
        if (n !== SIZE) throw new Error(`core download gave ${n} bytes`);
        best = Math.min(best, performance.now() - t);
      }
      emit({ metric: "core_block2_1MB_both_ends_ms", unit: "ms", mote: round(best), engine: "xs" });
      emit({ metric: "download_1MB_xs_heap_peak", unit: "bytes", mote: peak, engine: "xs", heap_before: base.heapBytes, heap_growth: peak - base.heapBytes });
    } finally {
      await xs.close();
    }
  } catch (e) {
    emit({ metric: "download_1MB_block2_ms", unit: "ms", mote: NaN, peer: `unavailable: ${String(e).slice(0, 120)}` });
  } finally {
    server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function roundTrips(fn: () => Promise<boolean>): Promise<number> {
  for (let i = 0; i < 20; i++) await fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < 1500 && n < 100_000) {
    if (!(await fn())) throw new Error("GET failed");
    n++;
  }
  return (n / (performance.now() - start)) * 1000;
}
