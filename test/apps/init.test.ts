/**
 * `mote init`: the project a user owns, with mote installed from this
 * checkout as a packed tarball (`npm pack`, unpacked into the project's
 * node_modules/mote as npm would; mote's own dependencies are linked from
 * this checkout's node_modules instead of downloaded, to keep CI offline and
 * short). Then, in the project, as its user would:
 *   - `npm run typecheck`: src/main.ts against mote's declarations (and a
 *     wrong call is caught: the types are real);
 *   - `npm test`: the project's own test, the app in the simulator;
 *   - `npm run build:mod` + `mote app lin KEY=VALUE…`: the app built by the
 *     real mcconfig for Moddable's lin runtime on mote's manifest_lib.json,
 *     then run headless against mosquitto and a CoAP server;
 *   - the ESP32 host-side link check (scripts/esp32-link-check.mjs) on the
 *     project's manifest, for the esp32 board.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ModdableDevice } from "../../host-shim/moddable/run.js";
import { findModdable, moddableMissing, type ModdableSdk } from "../../host-shim/moddable/sdk.js";
import { startCoapServer, type CoapPeer } from "../../host-shim/sim/peers.js";
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { packMote, runIn } from "./project.js";
import { run } from "../helpers/run.js";

const root = join(__dirname, "..", "..");
let dir: string;
let app: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mote-init-"));
  const tgz = await packMote(dir);
  app = join(dir, "my-sensor");
  const r = await run(process.execPath, [join(root, "bin", "mote.mjs"), "init", app, "--mote", `file:${tgz}`], { timeoutMs: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  installTarball(app, tgz);
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What `npm install` leaves: node_modules/mote from the tarball, its dependencies, and .bin links. */
function installTarball(project: string, tgz: string): void {
  const nm = join(project, "node_modules");
  mkdirSync(join(nm, "mote"), { recursive: true });
  execFileSync("tar", ["xzf", tgz, "-C", join(nm, "mote"), "--strip-components=1"]);
  for (const entry of readdirSync(join(root, "node_modules"))) {
    if (entry === ".bin" || entry.startsWith(".") || entry === "mote") continue;
    symlinkSync(join(root, "node_modules", entry), join(nm, entry));
  }
  mkdirSync(join(nm, ".bin"));
  for (const bin of readdirSync(join(root, "node_modules", ".bin"))) symlinkSync(join(root, "node_modules", ".bin", bin), join(nm, ".bin", bin));
  symlinkSync(join(nm, "mote", "bin", "mote.mjs"), join(nm, ".bin", "mote"));
}

describe("mote init DIR", () => {
  test("writes a project the user owns: manifest on mote's library, a program, a test, tsconfig and the scripts", () => {
    for (const f of ["manifest.json", "src/main.ts", "test/app.test.ts", "tsconfig.json", "package.json", "README.md", ".gitignore"])
      expect(existsSync(join(app, f)), f).toBe(true);
    const manifest = JSON.parse(readFileSync(join(app, "manifest.json"), "utf8")) as { include: string[]; modules: Record<string, string> };
    expect(manifest.include).toEqual(["$(MOTE)/manifest_lib.json"]);
    expect(manifest.modules).toEqual({ main: "./dist/device/main" }); // the app's own bundle; mote comes from manifest_lib.json
    const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { name: string; scripts: Record<string, string>; dependencies: Record<string, string> };
    expect(pkg.name).toBe("my-sensor");
    expect(pkg.dependencies.mote).toMatch(/^file:.*\.tgz$/);
    expect(Object.keys(pkg.scripts)).toEqual(expect.arrayContaining(["start", "test", "typecheck", "build:lin", "build:esp32", "build:esp32s3", "build:esp32c3"]));
    expect(pkg.scripts["build:esp32s3"]).toContain("-p esp32/esp32s3");
    const main = readFileSync(join(app, "src", "main.ts"), "utf8");
    expect(main).toContain('from "mote/mqtt"');
    expect(main).toContain('from "mote/coap"');
  });

  test("refuses to write into a folder that is not empty", async () => {
    const r = await runIn(root, process.execPath, [join(root, "bin", "mote.mjs"), "init", app], 60_000);
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/not empty/);
  }, 90_000);

  test("the program type-checks against mote's declarations from the tarball, and a wrong call does not", async () => {
    const ok = await runIn(app, "npm", ["run", "typecheck"], 120_000);
    expect(ok.status, ok.output).toBe(0);
    writeFileSync(join(app, "src", "wrong.ts"), 'import { connect } from "mote/mqtt";\nconnect(42);\n');
    try {
      const bad = await runIn(app, "npm", ["run", "typecheck"], 120_000);
      expect(bad.status).not.toBe(0);
      expect(bad.output).toMatch(/wrong\.ts.*TS2345/);
    } finally {
      rmSync(join(app, "src", "wrong.ts"));
    }
  }, 240_000);

  test("npm test: the project's own test passes (the app in the simulator, seen from an MQTT client)", async () => {
    const r = await runIn(app, "npm", ["test"], 240_000);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/Tests\s+3 passed/);
  }, 300_000);
});

const skip = moddableMissing() ?? mosquittoSkipReason();

describe.skipIf(skip !== undefined)("the project built by mcconfig for lin and run headless on Moddable's runtime", () => {
  let sdk: ModdableSdk;
  let broker: Mosquitto;
  let coap: CoapPeer;
  let device: ModdableDevice | undefined;
  let observer: mqtt.MqttClient;
  const seen: { topic: string; text: string }[] = [];

  beforeAll(async () => {
    sdk = findModdable() as ModdableSdk;
    broker = await startMosquitto();
    coap = await startCoapServer({ sensorPeriodMs: 200 });
    observer = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, clientId: "init-observer", reconnectPeriod: 0 });
    observer.on("message", (topic, payload) => seen.push({ topic, text: payload.toString() }));
    await observer.subscribeAsync("app/lin-app/#", { qos: 1 });
  }, 60_000);

  afterAll(async () => {
    await device?.stop();
    await observer?.endAsync();
    await coap?.close();
    await broker?.close();
  });

  function next(match: (m: { topic: string; text: string }) => boolean, timeoutMs = 20_000): Promise<{ topic: string; text: string }> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const poll = () => {
        const m = seen.find(match);
        if (m) resolve(m);
        else if (Date.now() > deadline) reject(new Error(`not seen in ${timeoutMs} ms; the app said:\n${device?.lines.filter((l) => !l.startsWith("instruments:")).slice(-30).join("\n")}`));
        else setTimeout(poll, 50);
      };
      poll();
    });
  }

  test("npm run build:mod, then mcconfig -p lin on manifest_lib.json: an mc.so", async () => {
    const mod = await runIn(app, "npm", ["run", "build:mod"], 60_000);
    expect(mod.status, mod.output).toBe(0);
    const js = readFileSync(join(app, "dist", "device", "main.js"), "utf8");
    expect(js).toMatch(/from "mote\/mqtt"/); // mote stays an import, served by the library manifest
    const config = ["ssid=lab", `broker=mqtt://127.0.0.1:${broker.port}`, `coap=coap://127.0.0.1:${coap.port}`, "clientId=lin-app", "telemetryMs=300"];
    const lin = await runIn(app, "npx", ["mote", "app", "lin", ...config], 900_000, { MODDABLE: sdk.home, PATH: `${sdk.bin}:${process.env.PATH}` });
    expect(lin.status, lin.output).toBe(0);
    expect(lin.output).toMatch(/\/mc\.so$/m);
  }, 960_000);

  test("npm run check:esp32: the ESP32 host-side link check (mcconfig -p esp32, xsc, xsl; release) passes", async () => {
    // the project's own script, with the packed mote's copy of the check (MOTE = node_modules/mote)
    const r = await runIn(app, "npm", ["run", "check:esp32", "--", "--board", "esp32", "--build", "release"], 900_000, {
      MODDABLE: sdk.home,
      PATH: `${sdk.bin}:${process.env.PATH}`,
    });
    expect(r.status, r.output.slice(-3000)).toBe(0);
    expect(r.output).toMatch(/esp32 link check: PASS/);
  }, 960_000);

  test("runs headless: online, telemetry with the CoAP sensor's value, a ping answered", async () => {
    const so = readdirSync(join(app, "build", "moddable", "bin", "lin", "mc", "instrument"))
      .map((d) => join(app, "build", "moddable", "bin", "lin", "mc", "instrument", d, "mc.so"))
      .find(existsSync);
    expect(so).toBeDefined();
    device = new ModdableDevice(so!, sdk, join(dir, "lin-device"));
    device.start();
    expect((await next((m) => m.topic === "app/lin-app/status")).text).toBe("online");
    const t = JSON.parse((await next((m) => m.topic === "app/lin-app/telemetry" && JSON.parse(m.text).sensor !== undefined)).text) as { sensor: string };
    expect(Number(t.sensor)).toBeGreaterThan(0);
    await observer.publishAsync("app/lin-app/cmd/ping", "from the test", { qos: 1 });
    expect((await next((m) => m.topic === "app/lin-app/pong")).text).toBe("from the test");
  }, 60_000);
});
