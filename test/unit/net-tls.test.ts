/**
 * TcpClient with `tls` over the platform TLS socket (Node twin: node:tls),
 * against a node:tls server whose certificates openssl makes for the test.
 * Without openssl: fail when CI is set, else skip with a printed reason.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { TcpClient, type NetError } from "../../src/net/index.js";
import { closeAllHandles } from "../../host-shim/node/hardware.js";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
if (!hasOpenssl) {
  if (process.env.CI) throw new Error("openssl is required for test/unit/net-tls.test.ts (CI is set)");
  console.warn("skipping test/unit/net-tls.test.ts: openssl not found");
}

const str = (b: Uint8Array) => String.fromCharCode(...b);
const files: Record<string, Buffer> = {};
let server: tls.Server;
let port = 0;

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

beforeAll(async () => {
  if (!hasOpenssl) return;
  const dir = mkdtempSync(join(tmpdir(), "mote-tls-"));
  const run = (args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const ca of ["ca", "other"]) run(["req", "-x509", ...ec, "-keyout", `${ca}.key`, "-out", `${ca}.crt`, "-days", "2", "-subj", `/CN=${ca}`]);
  run(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
  run(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext"]);
  for (const f of ["ca.crt", "other.crt", "server.crt", "server.key"]) files[f] = readFileSync(join(dir, f));
  server = tls.createServer({ cert: files["server.crt"], key: files["server.key"] }, (s) => s.on("data", (d) => s.end(d)));
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as { port: number }).port;
}, 30_000);

afterAll(() => {
  server?.close();
  closeAllHandles();
});

function exchange(tlsOptions: { ca?: Uint8Array; verify?: boolean; serverName?: string }, host = "localhost") {
  let received = "";
  let error: NetError | undefined | null = null;
  const client = new TcpClient({
    host,
    port,
    tls: tlsOptions,
    onData: (d) => (received += str(d)),
    onClose: (e) => (error = e),
  });
  client.write("over tls");
  return { done: () => error !== null, received: () => received, error: () => error };
}

describe.skipIf(!hasOpenssl)("TcpClient over TLS", () => {
  test("a server certificate from the trusted CA connects and echoes", async () => {
    const x = exchange({ ca: new Uint8Array(files["ca.crt"]) });
    await until(x.done);
    expect(x.received()).toBe("over tls");
    expect(x.error()).toBeUndefined();
  });

  test("a certificate from another CA is refused with tls", async () => {
    const x = exchange({ ca: new Uint8Array(files["other.crt"]) });
    await until(x.done);
    expect(x.received()).toBe("");
    expect(x.error()).toMatchObject({ code: "tls" });
  });

  test("a server name the certificate does not name is refused with tls", async () => {
    const x = exchange({ ca: new Uint8Array(files["ca.crt"]), serverName: "wrong.example" }, "127.0.0.1");
    await until(x.done);
    expect(x.received()).toBe("");
    expect(x.error()).toMatchObject({ code: "tls" });
  });

  test("verify: false accepts an untrusted certificate", async () => {
    const x = exchange({ verify: false });
    await until(x.done);
    expect(x.received()).toBe("over tls");
  });
});
