/**
 * Moddable tier: MQTT over TLS on Moddable's own runtime. The CLI's tasks,
 * built by the real `mcconfig -m -i -p lin` (manifest_tools.json), run
 * through `mote mqtt pub|sub ... --engine moddable` against mosquitto with a
 * test CA and server certificates made here by openssl, on free ports of
 * 127.0.0.1. Moddable's TLS stack (modules/crypt/ssl over
 * examples/io/tcp/tlssocket) does the handshake and the certificate check.
 *
 * Proven: with the CA (PEM or DER, --cafile) the connection is made and the
 * messages go through; without it, with an unrelated CA, or against a
 * certificate for another host, the connection is refused with a "tls:" line
 * and exit status 1 before the process's time bound; --insecure connects to
 * that other-host certificate (the check is off, as documented); a CA file
 * that is not a certificate is refused with its PemError code.
 *
 * The device program (manifest.json) with an `mqtts://` broker and the test
 * CA as its `mqttCa` preference connects, says online and sends telemetry;
 * with a CA that did not sign the broker's certificate, or against the
 * certificate for another host, every attempt is refused by Moddable's
 * certificate check and the device retries after its backoff, never online.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import mqtt from "mqtt";
import { buildModdable } from "../../host-shim/moddable/build.js";
import { ModdableDevice, writePreferences } from "../../host-shim/moddable/run.js";
import { findModdable, moddableMissing, type ModdableSdk } from "../../host-shim/moddable/sdk.js";
import { freePort, makeTlsFiles, mosquittoSkipReason, opensslSkipReason, startMosquitto, tlsListener, type Mosquitto, type TlsFiles } from "../helpers/mosquitto.js";

const root = join(__dirname, "..", "..");
const skip = moddableMissing() ?? mosquittoSkipReason() ?? opensslSkipReason();

interface Run {
  /** Exit status; null when the time bound killed it. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `mote ARGS --engine moddable`, killed after `timeoutMs` (then code is null). */
function mote(args: string[], timeoutMs = 60_000): Promise<Run> {
  const child = spawn(process.execPath, [join(root, "bin", "mote.mjs"), ...args, "--engine", "moddable"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise<Run>((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/**
 * Test certificates made in `dir`, and mosquitto with two TLS listeners on free
 * ports: `tlsPort` with the certificate for 127.0.0.1 / localhost,
 * `wrongHostPort` with one for wrong.example / 10.0.0.1 from the same CA.
 */
async function startTlsBroker(dir: string): Promise<{ files: TlsFiles; tlsPort: number; wrongHostPort: number; broker: Mosquitto }> {
  const files = makeTlsFiles(dir);
  const tlsPort = await freePort();
  const wrongHostPort = await freePort();
  const broker = await startMosquitto({
    extraConfig: [
      ...tlsListener(tlsPort, files, files.serverCert, files.serverKey),
      ...tlsListener(wrongHostPort, files, files.wrongHostCert, files.wrongHostKey),
    ],
  });
  return { files, tlsPort, wrongHostPort, broker };
}

describe.skipIf(skip !== undefined)("MQTT over TLS on Moddable's runtime (mote mqtt ... --engine moddable)", () => {
  let sdk: ModdableSdk;
  let broker: Mosquitto;
  let files: TlsFiles;
  let dir: string;
  /** The listener with the certificate for 127.0.0.1 / localhost. */
  let tlsPort: number;
  /** The listener with a certificate for wrong.example / 10.0.0.1, same CA. */
  let wrongHostPort: number;

  beforeAll(async () => {
    sdk = findModdable() as ModdableSdk;
    await buildModdable("tools", sdk);
    dir = mkdtempSync(join(tmpdir(), "mote-lin-tls-"));
    ({ files, tlsPort, wrongHostPort, broker } = await startTlsBroker(dir));
  }, 300_000);

  afterAll(async () => {
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const url = (port: number, topic: string, host = "127.0.0.1") => `mqtts://${host}:${port}/${topic}`;

  test("with the CA as PEM, a retained QoS 1 publish goes through; a subscriber with the CA as DER gets it", async () => {
    const pub = await mote(["mqtt", "pub", "-L", url(tlsPort, "tls/pem"), "--cafile", files.caPem, "-q", "1", "-r", "-m", "over tls"]);
    expect(pub.code, pub.stderr).toBe(0);
    const sub = await mote(["mqtt", "sub", "-L", url(tlsPort, "tls/pem"), "--cafile", files.caDer, "-C", "1", "-v"]);
    expect(sub.code, sub.stderr).toBe(0);
    expect(sub.stdout).toBe("tls/pem over tls\n");
  }, 180_000);

  test("without a CA the built-in store does not know the test CA: refused with a tls line, exit 1", async () => {
    const r = await mote(["mqtt", "pub", "-L", url(tlsPort, "tls/none"), "-m", "x"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^mote: tls: certificate/m);
  }, 120_000);

  test("with a CA that did not sign the server's certificate: refused", async () => {
    const r = await mote(["mqtt", "pub", "-L", url(tlsPort, "tls/other"), "--cafile", files.otherCaPem, "-m", "x"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^mote: tls: certificate/m);
  }, 120_000);

  test("a certificate for another host, signed by the trusted CA: refused; --insecure connects to it", async () => {
    const r = await mote(["mqtt", "pub", "-L", url(wrongHostPort, "tls/wrong"), "--cafile", files.caPem, "-m", "x"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^mote: tls: certificate/m);
    const insecure = await mote(["mqtt", "pub", "-L", url(wrongHostPort, "tls/wrong"), "--insecure", "-q", "1", "-m", "unchecked"]);
    expect(insecure.code, insecure.stderr).toBe(0);
  }, 180_000);

  test("a CA file that is a key, not a certificate: refused with its PemError code", async () => {
    const r = await mote(["mqtt", "pub", "-L", url(tlsPort, "tls/bad"), "--cafile", files.serverKey, "-m", "x"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/pem-label/);
    const junk = join(dir, "junk.pem");
    writeFileSync(junk, "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
    const r2 = await mote(["mqtt", "pub", "-L", url(tlsPort, "tls/bad"), "--cafile", junk, "-m", "x"]);
    expect(r2.code, r2.stderr).toBe(1);
    expect(r2.stderr).toMatch(/pem-base64/);
  }, 120_000);
});

describe.skipIf(skip !== undefined)("the device program on mqtts:// with mqttCa, on Moddable's runtime", () => {
  let sdk: ModdableSdk;
  let so: string;
  let broker: Mosquitto;
  let files: TlsFiles;
  let dir: string;
  let tlsPort: number;
  let wrongHostPort: number;
  const devices: ModdableDevice[] = [];

  beforeAll(async () => {
    sdk = findModdable() as ModdableSdk;
    so = await buildModdable("device", sdk);
    dir = mkdtempSync(join(tmpdir(), "mote-lin-tls-device-"));
    ({ files, tlsPort, wrongHostPort, broker } = await startTlsBroker(dir));
  }, 300_000);

  afterAll(async () => {
    for (const d of devices) await d.stop();
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A device whose preferences name `broker` and the CA in `caFile` (PEM text). */
  function boot(id: string, port: number, caFile: string): ModdableDevice {
    const state = join(dir, id);
    writePreferences(state, {
      mote: { ssid: "lab", password: "secret-pass", broker: `mqtts://127.0.0.1:${port}`, clientId: id, telemetryMs: 500, mqttCa: readFileSync(caFile, "utf8") },
    });
    const device = new ModdableDevice(so, sdk, state, { onLine: process.env.MOTE_LOG ? (l) => console.log(`[${id}] ${l}`) : undefined });
    devices.push(device);
    device.start();
    return device;
  }

  test("with the broker's CA it connects over TLS, says online and sends QoS 1 telemetry", async () => {
    const observer = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, clientId: "lin-tls-observer", reconnectPeriod: 0 });
    try {
      const seen: string[] = [];
      observer.on("message", (t, p) => seen.push(`${t} ${p.toString()}`));
      await observer.subscribeAsync("mote/lin-tls-1/#", { qos: 1 });
      const device = boot("lin-tls-1", tlsPort, files.caPem);
      await device.waitFor(/mqtt connected/, 60_000);
      const end = Date.now() + 20_000;
      while (Date.now() < end && !(seen.includes("mote/lin-tls-1/status online") && seen.some((m) => m.startsWith("mote/lin-tls-1/telemetry {")))) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(seen).toContain("mote/lin-tls-1/status online");
      expect(seen.some((m) => m.startsWith("mote/lin-tls-1/telemetry {"))).toBe(true);
      await device.stop();
    } finally {
      await observer.endAsync();
    }
  }, 120_000);

  /**
   * Boots a device that must be refused: Moddable's ssl check throws "certificate:
   * auth err" on each attempt (the SDK's exception trace), the link retries after
   * its backoff and fails again, and the device never connects nor says online.
   */
  async function refused(id: string, port: number, caFile: string): Promise<void> {
    const observer = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, clientId: `${id}-observer`, reconnectPeriod: 0 });
    try {
      const seen: string[] = [];
      observer.on("message", (t, p) => seen.push(`${t} ${p.toString()}`));
      await observer.subscribeAsync(`mote/${id}/#`, { qos: 1 });
      const device = boot(id, port, caFile);
      const first = await device.waitFor(/certificate: auth err/, 60_000);
      const at = device.lines.indexOf(first) + 1;
      await device.waitFor(/certificate: auth err/, 60_000, at);
      expect(device.lines.some((l) => /mqtt connected/.test(l))).toBe(false);
      expect(seen.filter((m) => m.startsWith(`mote/${id}/status online`))).toEqual([]);
      await device.stop();
    } finally {
      await observer.endAsync();
    }
  }

  test("with a CA that did not sign the broker's certificate: refused at every attempt, never online", async () => {
    await refused("lin-tls-2", tlsPort, files.otherCaPem);
  }, 150_000);

  test("against a certificate for another host (same CA): refused at every attempt, never online", async () => {
    await refused("lin-tls-3", wrongHostPort, files.caPem);
  }, 150_000);
});
