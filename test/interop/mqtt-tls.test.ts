/**
 * mqtts:// against mosquitto with a TLS listener whose certificate comes from
 * a CA made by the test (openssl): verification is on by default, a trusted
 * CA makes it pass, a wrong CA or none refuses the connection, and a listener
 * that requires client certificates accepts ours.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type MqttClient } from "../../src/mqtt/index.js";
import { freePort, mosquittoSkipReason, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { collect, connected, once, text, waitFor } from "./mqtt-helpers.js";

function opensslSkipReason(): string | undefined {
  if (spawnSync("openssl", ["version"]).status === 0 || process.env.CI) return undefined;
  const reason = "openssl is not installed (apt-get install openssl); skipping mqtts tests";
  console.log(reason);
  return reason;
}

const skip = mosquittoSkipReason() ?? opensslSkipReason();
let broker: Mosquitto;
let tlsPort: number;
let mtlsPort: number;
let dir: string;
const files: Record<string, Uint8Array> = {};
const clients: MqttClient[] = [];

function openssl(args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

/** A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and an unrelated CA. */
function makeCertificates(): void {
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const ca of ["ca", "other-ca"]) {
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${ca}.key`, "-out", `${ca}.crt`, "-days", "2", "-subj", `/CN=mote test ${ca}`]);
  }
  for (const [name, ext] of [["server", ["-extfile", "san.ext"]], ["client", []]] as const) {
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name === "server" ? "localhost" : "mote-client"}`]);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", ...ext]);
  }
  for (const f of ["ca.crt", "other-ca.crt", "client.crt", "client.key"]) files[f] = new Uint8Array(readFileSync(join(dir, f)));
}

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "mote-tls-"));
  makeCertificates();
  tlsPort = await freePort();
  mtlsPort = await freePort();
  broker = await startMosquitto({
    extraConfig: [
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${join(dir, "ca.crt")}`,
      `certfile ${join(dir, "server.crt")}`,
      `keyfile ${join(dir, "server.key")}`,
      `listener ${mtlsPort} 127.0.0.1`,
      `cafile ${join(dir, "ca.crt")}`,
      `certfile ${join(dir, "server.crt")}`,
      `keyfile ${join(dir, "server.key")}`,
      `require_certificate true`,
    ],
  });
}, 60_000);

afterAll(async () => {
  for (const c of clients) await Promise.race([c.end({ force: true }), new Promise((r) => setTimeout(r, 500))]);
  await broker?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function ours(url: string, options: Record<string, unknown> = {}): MqttClient {
  const c = connect(url, { protocolVersion: 5, reconnect: false, ...options });
  clients.push(c);
  return c;
}

describe.skipIf(skip)("mqtts:// with mosquitto", () => {
  test("with the CA that signed the server certificate: connects, subscribes, publishes", async () => {
    const c = ours(`mqtts://127.0.0.1:${tlsPort}`, { clientId: "tls-ok", ca: files["ca.crt"] });
    await connected(c);
    const got = collect(c, "tls/#");
    await c.subscribe("tls/#", undefined, { qos: 1 });
    await c.publish("tls/x", "secret", { qos: 1 });
    await waitFor(() => got.length === 1);
    expect(text(got[0].payload)).toBe("secret");
    await c.end();
  });

  test("verification is on by default: no CA given refuses the self-made certificate", async () => {
    const c = ours(`mqtts://127.0.0.1:${tlsPort}`, { clientId: "tls-none" });
    const err = (await once(c, "error")) as { code: string };
    expect(err.code).toBe("tls");
    expect(c.connected).toBe(false);
  });

  test("a CA that did not sign the server certificate refuses it", async () => {
    const c = ours(`mqtts://127.0.0.1:${tlsPort}`, { clientId: "tls-wrong", ca: files["other-ca.crt"] });
    const err = (await once(c, "error")) as { code: string };
    expect(err.code).toBe("tls");
  });

  test("a listener that requires client certificates accepts ours", async () => {
    const c = ours(`mqtts://127.0.0.1:${mtlsPort}`, { clientId: "mtls", ca: files["ca.crt"], cert: files["client.crt"], key: files["client.key"] });
    await connected(c);
    await c.publish("tls/m", "x", { qos: 1 });
    await c.end();
  });
});
