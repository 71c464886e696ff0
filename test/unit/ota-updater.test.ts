import { describe, expect, test } from "vitest";
import { Updater } from "../../src/ota/updater.js";
import { describeImage, signDescriptor } from "../../cli/ota-sign.js";
import { descriptorText, Driver, makeImage, MemFlash, SIGNER, signedFor, updaterOptions } from "./ota-fakes.js";

const IMAGE = makeImage(50_000, 9);

function setup(extra: Parameters<typeof updaterOptions>[1] = {}, flashSize = 256 * 1024) {
  const flash = new MemFlash(flashSize);
  const d = new Driver(new Updater(updaterOptions(flash, extra)), flash);
  return d;
}

describe("an update that goes well", () => {
  test("erases sector by sector, streams, writes the header last and switches", () => {
    const d = setup();
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    expect(d.flash.erases).toBe(Math.ceil(IMAGE.length / 4096));
    expect(d.log.filter((a) => a.type === "erase").map((a) => (a as { sector: number }).sector)).toEqual([...Array(13).keys()]);
    expect(d.fetches).toEqual([0]);
    d.serve(IMAGE);
    expect(d.updater.state).toBe("done");
    expect(d.flash.bytes.subarray(0, IMAGE.length)).toEqual(IMAGE);
    const writes = d.log.filter((a) => a.type === "write") as Array<{ offset: number; data: Uint8Array }>;
    expect(writes.at(-1)!.offset).toBe(0); // header last
    expect(writes.at(-1)!.data.length).toBe(16);
    expect(writes.slice(0, -1).every((w) => w.offset >= 16 && w.data.length <= 4096)).toBe(true);
    const kinds = d.log.map((a) => a.type);
    expect(kinds.indexOf("switch")).toBeGreaterThan(kinds.lastIndexOf("write"));
    expect(d.last("done")).toMatchObject({ reboot: true });
  });

  test("reports download progress in about 5% steps, ending at 100%", () => {
    const d = setup();
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    d.serve(IMAGE);
    const steps = d.log.filter((a) => a.type === "progress" && a.phase === "download") as Array<{ done: number; total: number }>;
    expect(steps.length).toBeGreaterThanOrEqual(10);
    expect(steps.length).toBeLessThanOrEqual(22);
    expect(steps.at(-1)).toEqual({ type: "progress", phase: "download", done: IMAGE.length, total: IMAGE.length });
    expect(steps.every((s, i) => i === 0 || s.done > steps[i - 1].done)).toBe(true);
  });

  test("holds no more than one chunk and the header whatever the image size", () => {
    const d = setup({ chunkSize: 8192 }, 1024 * 1024);
    const big = makeImage(1024 * 1024 - 100, 4);
    d.feed({ type: "start", descriptor: descriptorText(signedFor(big)) });
    d.serve(big);
    expect(d.updater.state).toBe("done");
    expect(d.peakBufferBytes).toBe(8192 + 16);
    expect(d.updater.bufferBytes()).toBe(0);
    expect(() => new Updater(updaterOptions(d.flash, { chunkSize: 16384 }))).toThrow(/bad-option/);
  });

  test("takes a mod into its own target with the mod's version line", () => {
    const flash = new MemFlash(64 * 1024);
    const modFlash = new MemFlash(128 * 1024);
    const u = new Updater(updaterOptions(flash, { targets: { firmware: flash, mod: modFlash } }));
    const d = new Driver(u, modFlash);
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE, { kind: "mod", version: "0.1.0" })) });
    d.serve(IMAGE);
    expect(d.last("switch")?.kind).toBe("mod");
    expect(modFlash.bytes.subarray(0, IMAGE.length)).toEqual(IMAGE);
    expect(flash.untouched()).toBe(true);
  });
});

describe("refusals happen before a byte is erased or downloaded", () => {
  const cases: Array<[string, () => string, string, Parameters<typeof updaterOptions>[1]?]> = [
    ["a bad signature", () => JSON.stringify({ ...signedFor(IMAGE), size: IMAGE.length + 1 }), "bad-signature"],
    ["another board", () => descriptorText(signedFor(IMAGE, { board: "esp32/other" })), "wrong-board"],
    ["a downgrade", () => descriptorText(signedFor(IMAGE, { version: "0.9.0" })), "downgrade"],
    ["the running version", () => descriptorText(signedFor(IMAGE, { version: "1.0.0" })), "up-to-date"],
    ["a version below the floor", () => descriptorText(signedFor(IMAGE, { version: "1.1.0" })), "downgrade", { policy: { board: "sim", runningVersion: "1.0.0", floorVersion: "1.2.0" } }],
    ["an image too large for the slot", () => descriptorText(signedFor(makeImage(300 * 1024))), "too-large"],
    ["a kind without a target", () => descriptorText(signedFor(IMAGE, { kind: "mod" })), "wrong-kind", { targets: { firmware: new MemFlash(256 * 1024) } }],
    ["garbage", () => "{]", "bad-descriptor"],
  ];
  for (const [what, text, code, extra] of cases) {
    test(`${what} fails with ${code}`, () => {
      const d = setup(extra);
      d.feed({ type: "start", descriptor: text() });
      expect(d.failure()).toBe(code);
      expect(d.log.map((a) => a.type)).toEqual(["fail"]);
      expect(d.flash.untouched()).toBe(true);
      expect(d.fetches).toEqual([]);
    });
  }

  test("a descriptor without URL, and no URL in the command, is no-url", () => {
    const d = setup();
    const bare = signDescriptor(describeImage(IMAGE, { version: "2.0.0", board: "sim" }), SIGNER.privateKey);
    d.feed({ type: "start", descriptor: descriptorText(bare) });
    expect(d.failure()).toBe("no-url");
    expect(d.flash.untouched()).toBe(true);
    const e = setup();
    e.feed({ type: "start", descriptor: descriptorText(bare), url: "http://127.0.0.1:9/x.bin" });
    expect(e.fetches).toEqual([0]);
  });
});

describe("faults during the download", () => {
  test("a dropped connection resumes with a Range request from the next byte", () => {
    const d = setup({ retryDelayMs: 500 });
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    d.serve(IMAGE, { cut: 20_001 });
    expect(d.updater.state).toBe("waiting-retry");
    expect(d.updater.nextDeadline()).toBe(500);
    d.now = 499;
    d.feed({ type: "timer" });
    expect(d.fetches).toEqual([0]);
    d.now = d.updater.nextDeadline()!;
    d.feed({ type: "timer" });
    expect(d.fetches).toEqual([0, 20_001]);
    d.serve(IMAGE);
    expect(d.updater.state).toBe("done");
    expect(d.flash.bytes.subarray(0, IMAGE.length)).toEqual(IMAGE);
  });

  test("backs off exponentially and gives up after maxAttempts with truncated", () => {
    const d = setup({ retryDelayMs: 100, maxAttempts: 3 });
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      d.serve(IMAGE, { cut: 1000 });
      if (d.updater.state !== "waiting-retry") break;
      delays.push(d.updater.nextDeadline()! - d.now);
      d.now = d.updater.nextDeadline()!;
      d.feed({ type: "timer" });
    }
    expect(delays).toEqual([100, 200]);
    expect(d.failure()).toBe("truncated");
    expect(d.switched).toBe(false);
  });

  test("a server that ignores Range: the full body's first bytes are discarded, never appended at the offset", () => {
    const d = setup({ retryDelayMs: 1 });
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    d.serve(IMAGE, { cut: 30_000 });
    d.now = d.updater.nextDeadline()!;
    d.feed({ type: "timer" });
    d.serve(IMAGE, { ignoreRange: true });
    expect(d.log.some((a) => a.type === "notice" && a.code === "range-ignored")).toBe(true);
    expect(d.updater.state).toBe("done");
    expect(d.flash.bytes.subarray(0, IMAGE.length)).toEqual(IMAGE);
  });

  test("with onRangeIgnored=fail, a 200 to a Range request is range-ignored", () => {
    const d = setup({ retryDelayMs: 1, onRangeIgnored: "fail" });
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    d.serve(IMAGE, { cut: 30_000 });
    d.now = d.updater.nextDeadline()!;
    d.feed({ type: "timer" });
    d.serve(IMAGE, { ignoreRange: true });
    expect(d.failure()).toBe("range-ignored");
    expect(d.switched).toBe(false);
  });

  test("a 206 that starts elsewhere is bad-range", () => {
    const d = setup({ retryDelayMs: 1 });
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    d.serve(IMAGE, { cut: 10_000 });
    d.now = d.updater.nextDeadline()!;
    d.feed({ type: "timer" });
    d.feed({ type: "response", status: 206, contentRange: { start: 0, end: IMAGE.length - 1, total: IMAGE.length } });
    expect(d.failure()).toBe("bad-range");
  });

  test("a different image on the server is hash-mismatch, and the header is never written", () => {
    const d = setup();
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    const other = IMAGE.slice();
    other[40_000] ^= 0xff;
    d.serve(other);
    expect(d.failure()).toBe("hash-mismatch");
    expect(d.switched).toBe(false);
    expect(d.flash.bytes.subarray(0, 16).every((b) => b === 0xff)).toBe(true);
  });

  test("a server announcing another length is size-mismatch before anything is written", () => {
    const d = setup();
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    d.feed({ type: "response", status: 200, contentLength: IMAGE.length + 5 });
    expect(d.failure()).toBe("size-mismatch");
    expect(d.flash.writes).toBe(0);
  });

  test("a server that sends more than the size without announcing it is size-mismatch, nothing switched", () => {
    const d = setup();
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    d.feed({ type: "response", status: 200 }); // no Content-Length: body until close
    const longer = new Uint8Array(IMAGE.length + 5000).fill(0);
    longer.set(IMAGE);
    d.body(longer);
    expect(d.failure()).toBe("size-mismatch");
    expect(d.switched).toBe(false);
    expect(d.flash.bytes.subarray(0, 16).every((b) => b === 0xff)).toBe(true);
  });

  test("a body piece that crosses the size is size-mismatch", () => {
    const d = setup();
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    d.feed({ type: "response", status: 200 });
    d.body(IMAGE.subarray(0, IMAGE.length - 10));
    d.feed({ type: "body", data: new Uint8Array(20) });
    expect(d.failure()).toBe("size-mismatch");
    expect(d.switched).toBe(false);
  });

  test("404 fails at once with http-status; 503 is retried", () => {
    const d = setup({ retryDelayMs: 1 });
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    d.feed({ type: "response", status: 503 });
    expect(d.updater.state).toBe("waiting-retry");
    d.now = d.updater.nextDeadline()!;
    d.feed({ type: "timer" });
    d.feed({ type: "response", status: 404 });
    expect(d.failure()).toBe("http-status");
  });

  test("a flash failure stops the update with flash; cancel stops it with cancelled", () => {
    const d = setup();
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    d.feed({ type: "flash-failed", message: "write" });
    expect(d.failure()).toBe("flash");
    const e = setup();
    e.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    e.feed({ type: "cancel" });
    expect(e.failure()).toBe("cancelled");
    expect(e.log.map((a) => a.type).slice(-2)).toEqual(["abort-fetch", "fail"]);
  });

  test("misuse throws: a body larger than room, a second start", () => {
    const d = setup();
    d.feed({ type: "start", descriptor: descriptorText(signedFor(IMAGE)) });
    d.feed({ type: "response", status: 200, contentLength: IMAGE.length });
    expect(() => d.updater.handle({ type: "body", data: IMAGE }, 0)).toThrow(/overflow/);
    expect(() => d.updater.handle({ type: "start", descriptor: "{}" }, 0)).toThrow(/bad-state/);
  });
});
