import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from "vitest";

vi.mock("mote/ota-boot", async () => await import("../../host-shim/node/ota-boot.js"));

import { startOtaServer, type OtaServer } from "../../cli/ota-serve.js";
import { flashOperations } from "../../host-shim/node/flash.js";
import { bootRecord, markValid, provisionSim, simulateBoot } from "../../host-shim/node/ota.js";
import { encodeDescriptor } from "../../src/ota/descriptor.js";
import { freshBoard, makeAgent, makeImage, publish, runUpdate, SIGNER } from "./ota-helpers.js";

const V1 = makeImage(40_000, 1);
const V2 = makeImage(150_000, 2);
let www: string;
let server: OtaServer;
let dropper: OtaServer;
let rangeless: OtaServer;

beforeAll(async () => {
  www = mkdtempSync(join(tmpdir(), "mote-ota-www-"));
  server = await startOtaServer({ dir: www });
  dropper = await startOtaServer({ dir: www, faults: { dropAfterBytes: 50_000, dropTimes: 1 } });
  rangeless = await startOtaServer({ dir: www, faults: { dropAfterBytes: 60_000, dropTimes: 1, ignoreRange: true } });
});
afterAll(async () => {
  await Promise.all([server.close(), dropper.close(), rangeless.close()]);
});

beforeEach(() => {
  freshBoard();
  provisionSim({ image: V1, version: "1.0.0" });
  expect(simulateBoot().version).toBe("1.0.0");
});

function descriptorFor(base: string, fields: { version?: string; board?: string; minVersion?: string } = {}) {
  return publish(www, `app-${fields.version ?? "2.0.0"}.bin`, V2, { version: fields.version ?? "2.0.0", baseUrl: base, ...fields });
}

describe("v1 running, deploy v2 over HTTP into the simulated flash", () => {
  test("downloads, verifies, switches, boots v2 pending-verify, and the health check commits it", async () => {
    const d = descriptorFor(server.url);
    const events = await runUpdate(makeAgent({ runningVersion: "1.0.0" }), encodeDescriptor(d));
    expect(events.at(-1)).toMatchObject({ type: "done", reboot: true });
    expect(events.some((e) => e.detail.startsWith("download "))).toBe(true);
    expect(server.requests.filter((r) => r.path === "/app-2.0.0.bin").map((r) => r.range)).toEqual([undefined]);
    const boot = simulateBoot();
    expect([boot.slot, boot.version, boot.state, boot.reason]).toEqual(["ota_1", "2.0.0", "pending-verify", "first-boot"]);
    expect(boot.image).toEqual(V2);
    markValid(); // health check passed
    const again = simulateBoot();
    expect([again.version, again.state, again.reason]).toEqual(["2.0.0", "valid", "normal"]);
  });

  test("a v2 that never passes its health check is rolled back to v1 on the next boot", async () => {
    const d = descriptorFor(server.url);
    expect((await runUpdate(makeAgent({ runningVersion: "1.0.0" }), encodeDescriptor(d))).at(-1)?.type).toBe("done");
    expect(simulateBoot().version).toBe("2.0.0");
    // crash / no mark-valid
    const back = simulateBoot();
    expect([back.slot, back.version, back.reason]).toEqual(["ota_0", "1.0.0", "rollback"]);
    expect(back.image).toEqual(V1);
    expect(bootRecord().slots[1].state).toBe("invalid");
  });

  test("accepts the descriptor by URL", async () => {
    descriptorFor(server.url);
    const events = await runUpdate(makeAgent({ runningVersion: "1.0.0" }), JSON.stringify({ url: server.url + "app-2.0.0.json" }));
    expect(events.at(-1)?.type).toBe("done");
  });
});

describe("refusals leave v1 untouched: nothing erased, nothing downloaded", () => {
  const cases: Array<[string, () => string, string]> = [
    ["a bad signature", () => JSON.stringify({ ...descriptorFor(server.url), version: "2.0.1" }), "bad-signature"],
    ["a wrong board", () => encodeDescriptor(descriptorFor(server.url, { board: "esp32/other" })), "wrong-board"],
    ["a downgrade", () => encodeDescriptor(descriptorFor(server.url, { version: "0.9.0" })), "downgrade"],
  ];
  for (const [what, payload, code] of cases) {
    test(`${what} is refused with ${code}`, async () => {
      const text = payload();
      const before = flashOperations();
      const requests = server.requests.length;
      const events = await runUpdate(makeAgent({ runningVersion: "1.0.0" }), text);
      expect(events).toEqual([expect.objectContaining({ type: "error", code })]);
      expect(flashOperations()).toBe(before);
      expect(server.requests.length).toBe(requests);
      expect(simulateBoot()).toMatchObject({ version: "1.0.0", reason: "normal" });
    });
  }

  test("a hash mismatch (the server holds another image) is refused before switching; v1 keeps booting", async () => {
    const d = descriptorFor(server.url, { version: "2.1.0" });
    const tampered = V2.slice();
    tampered[100_000] ^= 0x55;
    writeFileSync(join(www, "app-2.1.0.bin"), tampered);
    const events = await runUpdate(makeAgent({ runningVersion: "1.0.0" }), encodeDescriptor(d));
    expect(events.at(-1)).toMatchObject({ type: "error", code: "hash-mismatch" });
    expect(simulateBoot()).toMatchObject({ version: "1.0.0", reason: "normal" });
  });

  test("a truncated image on the server is refused (size-mismatch) and v1 keeps booting", async () => {
    const d = descriptorFor(server.url, { version: "2.2.0" });
    writeFileSync(join(www, "app-2.2.0.bin"), V2.subarray(0, 120_000));
    const events = await runUpdate(makeAgent({ runningVersion: "1.0.0" }), encodeDescriptor(d));
    expect(events.at(-1)).toMatchObject({ type: "error", code: "size-mismatch" });
    expect(simulateBoot()).toMatchObject({ version: "1.0.0" });
  });

  test("a connection that always drops ends in truncated after the attempts", async () => {
    const always = await startOtaServer({ dir: www, faults: { dropAfterBytes: 10_000, dropTimes: 1000 } });
    try {
      const d = descriptorFor(always.url, { version: "2.3.0" });
      const events = await runUpdate(makeAgent({ runningVersion: "1.0.0", updater: { maxAttempts: 3, retryDelayMs: 1 } }), encodeDescriptor(d));
      expect(events.at(-1)).toMatchObject({ type: "error", code: "truncated" });
      expect(always.requests.length).toBe(3);
      expect(simulateBoot()).toMatchObject({ version: "1.0.0" });
    } finally {
      await always.close();
    }
  });
});

describe("interrupted downloads", () => {
  test("resume with a Range request instead of restarting", async () => {
    const d = descriptorFor(dropper.url, { version: "2.4.0" });
    const events = await runUpdate(makeAgent({ runningVersion: "1.0.0" }), encodeDescriptor(d));
    expect(events.at(-1)?.type).toBe("done");
    const ranges = dropper.requests.filter((r) => r.path === "/app-2.4.0.bin").map((r) => [r.range, r.status]);
    expect(ranges[0]).toEqual([undefined, 200]);
    expect(ranges[1][1]).toBe(206);
    expect(Number(/bytes=(\d+)-/.exec(ranges[1][0] as string)![1])).toBeGreaterThanOrEqual(40_000);
    expect(simulateBoot().image).toEqual(V2);
  });

  test("a server that ignores Range is detected and the image is still exact", async () => {
    const d = descriptorFor(rangeless.url, { version: "2.5.0" });
    const events = await runUpdate(makeAgent({ runningVersion: "1.0.0" }), encodeDescriptor(d));
    expect(events.some((e) => e.detail.startsWith("range-ignored"))).toBe(true);
    expect(events.at(-1)?.type).toBe("done");
    expect(rangeless.requests.filter((r) => r.path === "/app-2.5.0.bin").map((r) => r.status)).toEqual([200, 200]);
    expect(simulateBoot().image).toEqual(V2);
  });

  test("with onRangeIgnored=fail, the same server fails with range-ignored and v1 stays", async () => {
    const once = await startOtaServer({ dir: www, faults: { dropAfterBytes: 60_000, dropTimes: 1, ignoreRange: true } });
    try {
      const d = descriptorFor(once.url, { version: "2.6.0" });
      const events = await runUpdate(makeAgent({ runningVersion: "1.0.0", updater: { onRangeIgnored: "fail" } }), encodeDescriptor(d));
      expect(events.at(-1)).toMatchObject({ type: "error", code: "range-ignored" });
      expect(simulateBoot()).toMatchObject({ version: "1.0.0" });
    } finally {
      await once.close();
    }
  });
});

describe("app-only mod updates", () => {
  test("a mod goes to the xs partition, loads on the next boot, and is disabled after repeated crashes", async () => {
    const mod = makeImage(20_000, 7);
    const d = publish(www, "mod-0.2.0.xsa", mod, { version: "0.2.0", kind: "mod", baseUrl: server.url });
    const events = await runUpdate(makeAgent({ runningVersion: "1.0.0" }), encodeDescriptor(d));
    expect(events.at(-1)?.type).toBe("done");
    const boots = [simulateBoot(), simulateBoot(), simulateBoot(), simulateBoot()];
    expect(boots.map((b) => b.version)).toEqual(["1.0.0", "1.0.0", "1.0.0", "1.0.0"]); // firmware untouched
    expect(boots.map((b) => b.mod.load)).toEqual([true, true, true, false]);
    expect(boots[3].mod.disabled).toBe(true);
  });
});

describe("the agent wired to src/platform (tcp, dns, timer, crypt, flash, ota facade)", () => {
  test("updates v1 to v2 end to end and reports progress", async () => {
    const { createDeviceOtaAgent } = await import("../../src/ota/device.js");
    const pem = SIGNER.publicKey.export({ type: "spki", format: "pem" }) as string;
    const agent = createDeviceOtaAgent({ publicKey: pem, board: "sim", runningVersion: "1.0.0", updater: { retryDelayMs: 5 } });
    const d = descriptorFor(dropper.url, { version: "2.7.0" });
    const events = await runUpdate(agent, JSON.stringify({ descriptor: d }));
    expect(events.at(-1)).toMatchObject({ type: "done", reboot: true });
    expect(events.filter((e) => e.detail.startsWith("download ")).length).toBeGreaterThan(5);
    const boot = simulateBoot();
    expect([boot.version, boot.state]).toEqual(["2.7.0", "pending-verify"]);
    expect(boot.image).toEqual(V2);
  });
});

describe("the health check after booting v2 (BootGuard on a fake clock, platform facade over the simulator)", () => {
  async function bootIntoV2(): Promise<void> {
    const d = descriptorFor(server.url, { version: "2.8.0", minVersion: "2.0.0" });
    expect((await runUpdate(makeAgent({ runningVersion: "1.0.0" }), encodeDescriptor(d))).at(-1)?.type).toBe("done");
    expect(simulateBoot()).toMatchObject({ version: "2.8.0", state: "pending-verify" });
  }

  async function fakeGuard(deadlineMs: number) {
    const { BootGuard } = await import("../../src/ota/boot-guard.js");
    const facade = await import("../../src/platform/ota.js");
    const { onRestart } = await import("../../host-shim/node/ota.js");
    const restarts: string[] = [];
    onRestart((reason) => restarts.push(reason));
    let now = 0;
    let armed: number | undefined;
    let fire: () => void = () => {};
    const g = new BootGuard({
      deadlineMs,
      now: () => now,
      alarm: (cb) => {
        fire = cb;
        return { arm: (d) => void (armed = d), close: () => void (armed = undefined) };
      },
      markValid: () => facade.markRunningValid(),
      rollback: (reason) => facade.rollbackAndRestart(reason),
    });
    const advance = () => {
      now = armed!;
      fire();
    };
    return { g, restarts, advance, status: () => facade.firmwareStatus() };
  }

  test("WiFi + MQTT + self-test in time commit v2: it stays, and the anti-rollback floor rises", async () => {
    await bootIntoV2();
    const { g, status } = await fakeGuard(60_000);
    g.wifi(true);
    g.mqtt(true);
    expect(status().state).toBe("pending-verify");
    g.selfTest(true);
    expect(status().state).toBe("valid");
    expect(simulateBoot()).toMatchObject({ version: "2.8.0", reason: "normal" });
    expect(bootRecord().floor).toBe("2.0.0");
    // v1 is now below the floor: even an explicit downgrade is refused
    const back = publish(www, "app-1.9.0.bin", V1, { version: "1.9.0", baseUrl: server.url });
    const events = await runUpdate(makeAgent({ runningVersion: "2.8.0", allowDowngrade: true }), encodeDescriptor(back));
    expect(events.at(-1)).toMatchObject({ type: "error", code: "downgrade" });
  });

  test("no MQTT before the deadline: v2 marks itself invalid, restarts, and the device is back on v1", async () => {
    await bootIntoV2();
    const { g, restarts, advance } = await fakeGuard(60_000);
    g.wifi(true);
    advance();
    expect(g.state).toBe("rolled-back");
    expect(restarts).toEqual(["deadline"]);
    expect(simulateBoot()).toMatchObject({ version: "1.0.0", slot: "ota_0" });
  });

  test("a failing self-test rolls back at once", async () => {
    await bootIntoV2();
    const { g, restarts } = await fakeGuard(60_000);
    g.selfTest(false, "sensor missing");
    expect(restarts).toEqual(["self-test-failed: sensor missing"]);
    expect(simulateBoot().version).toBe("1.0.0");
  });
});

describe("fits the device program", () => {
  test("an OtaAgent is the OtaPort src/app expects (type-checked) and answers a second command with busy", async () => {
    const port: import("../../src/app/ports.js").OtaPort = makeAgent({ runningVersion: "1.0.0" });
    const d = descriptorFor(server.url, { version: "2.9.0" });
    const first = new Promise<string>((resolve) => port.start(new TextEncoder().encode(encodeDescriptor(d)), (e) => e.type !== "progress" && resolve(e.type)));
    const second = await new Promise<{ type: string; detail: string }>((resolve) => port.start(new TextEncoder().encode(encodeDescriptor(d)), resolve));
    expect(second).toMatchObject({ type: "error", detail: expect.stringMatching(/^busy/) });
    expect(await first).toBe("done");
  });
});

describe("coap:// images (Block2 through the CoAP client)", () => {
  test("v2 from a node-coap server lands byte-exact and boots", async () => {
    const { createRequire } = await import("node:module");
    const coap = createRequire(import.meta.url)("coap") as typeof import("coap");
    const { CoapClient } = await import("../../src/coap/client.js");
    const { platformHost } = await import("../../src/coap/host.js");
    const { coapFetcher } = await import("../../src/ota/coap-fetcher.js");
    const coapServer = coap.createServer((req, res) => {
      if (req.url === "/fw") res.end(Buffer.from(V2));
      else {
        res.code = "4.04";
        res.end();
      }
    });
    await new Promise<void>((r) => coapServer.listen(0, "127.0.0.1", () => r()));
    const port = (coapServer as unknown as { _sock: { address(): { port: number } } })._sock.address().port;
    const client = new CoapClient({ host: platformHost() });
    try {
      const d = publish(www, "app-3.1.0.bin", V2, { version: "3.1.0", baseUrl: server.url });
      const agent = makeAgent({ runningVersion: "1.0.0", fetchers: { http: () => { throw new Error("http must not be used"); }, coap: coapFetcher(client) } });
      const events = await runUpdate(agent, JSON.stringify({ descriptor: d, url: `coap://127.0.0.1:${port}/fw` }));
      expect(events.at(-1)).toMatchObject({ type: "done" });
      expect(simulateBoot()).toMatchObject({ version: "3.1.0", state: "pending-verify" });
      const missing = await runUpdate(makeAgent({ runningVersion: "1.0.0", fetchers: { coap: coapFetcher(client) } }), JSON.stringify({ descriptor: d, url: `coap://127.0.0.1:${port}/nope` }));
      expect(missing.at(-1), JSON.stringify(missing.at(-1))).toMatchObject({ type: "error", code: "http-status" });
    } finally {
      client.close();
      await new Promise<void>((r) => coapServer.close(() => r()));
    }
  });
});

describe("periodic check", () => {
  test("each tick asks the descriptor URL; up-to-date is silent, a new version installs, a running update is not disturbed", async () => {
    const { periodicCheck } = await import("../../src/ota/agent.js");
    let tick: () => void = () => {};
    const agent = makeAgent({ runningVersion: "2.0.0" });
    const seen: Array<{ type: string; code?: string }> = [];
    const check = periodicCheck(agent, {
      url: server.url + "app-2.0.0.json",
      intervalMs: 3_600_000,
      repeat: (cb) => ((tick = cb), { cancel: () => (tick = () => {}) }),
      onEvent: (e) => seen.push(e),
    });
    descriptorFor(server.url); // 2.0.0 = what runs
    tick();
    for (let i = 0; i < 200 && agent.busy; i++) await new Promise((r) => setTimeout(r, 5));
    expect(seen).toEqual([]);
    descriptorFor(server.url, { version: "2.0.0" });
    const newer = descriptorFor(server.url, { version: "2.10.0" });
    writeFileSync(join(www, "app-2.0.0.json"), encodeDescriptor(newer)); // the URL now names 2.10.0
    tick();
    tick(); // busy: skipped
    for (let i = 0; i < 400 && agent.busy; i++) await new Promise((r) => setTimeout(r, 5));
    expect(seen.filter((e) => e.type !== "progress")).toEqual([expect.objectContaining({ type: "done" })]);
    expect(simulateBoot().version).toBe("2.10.0");
    check.cancel();
    expect(() => periodicCheck(agent, { url: "http://x/y", intervalMs: 10, repeat: () => ({ cancel() {} }), onEvent() {} })).toThrow(/bad-option/);
  });
});

describe("the esp32/ota twin (Moddable's OTA class shape)", () => {
  test("write() in pieces then complete() switches to the written image; a bad state throws", async () => {
    const { default: OTA } = await import("../../host-shim/node/ota.js");
    const ota = new OTA();
    for (let at = 0; at < V2.length; at += 10_000) ota.write(V2.slice(at, at + 10_000).buffer);
    ota.complete();
    const boot = simulateBoot();
    expect([boot.slot, boot.state]).toEqual(["ota_1", "pending-verify"]);
    expect(boot.image).toEqual(V2);
    expect(() => ota.write(new ArrayBuffer(1))).toThrow(/bad state/);
    const cancelled = new OTA();
    cancelled.write(V1.slice().buffer as ArrayBuffer);
    cancelled.cancel();
    expect(() => cancelled.complete()).toThrow(/bad state/);
  });
});
