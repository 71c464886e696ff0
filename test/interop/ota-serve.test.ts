import { mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseRange, startOtaServer, type OtaServer } from "../../cli/ota-serve.js";
import { main } from "../../cli/ota.js";

const dir = mkdtempSync(join(tmpdir(), "mote-ota-serve-"));
const body = new Uint8Array(10_000).map((_, i) => (i * 13) & 255);
let server: OtaServer;

function get(path: string, headers: Record<string, string> = {}, method = "GET") {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Uint8Array }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  writeFileSync(join(dir, "fw.bin"), body);
  server = await startOtaServer({ dir });
});
afterAll(() => server.close());

describe("mote ota serve", () => {
  test("serves the whole file with 200 and advertises byte ranges", async () => {
    const r = await get("/fw.bin");
    expect(r.status).toBe(200);
    expect(r.headers["accept-ranges"]).toBe("bytes");
    expect(r.body).toEqual(body);
  });

  test("answers a Range request with 206 and the exact slice", async () => {
    const r = await get("/fw.bin", { Range: "bytes=4096-" });
    expect(r.status).toBe(206);
    expect(r.headers["content-range"]).toBe("bytes 4096-9999/10000");
    expect(r.body).toEqual(body.subarray(4096));
    const mid = await get("/fw.bin", { Range: "bytes=10-19" });
    expect(mid.body).toEqual(body.subarray(10, 20));
    const suffix = await get("/fw.bin", { Range: "bytes=-5" });
    expect(suffix.body).toEqual(body.subarray(9995));
  });

  test("answers 416 to a range past the end, and HEAD with headers only", async () => {
    const r = await get("/fw.bin", { Range: "bytes=10000-" });
    expect(r.status).toBe(416);
    expect(r.headers["content-range"]).toBe("bytes */10000");
    const h = await get("/fw.bin", {}, "HEAD");
    expect([h.status, h.headers["content-length"], h.body.length]).toEqual([200, "10000", 0]);
  });

  test("refuses paths outside the directory and other methods", async () => {
    expect((await get("/../../etc/passwd")).status).toBe(404);
    expect((await get("/%2e%2e/%2e%2e/etc/passwd")).status).toBe(404);
    expect((await get("/nope.bin")).status).toBe(404);
    expect((await get("/fw.bin", {}, "POST")).status).toBe(405);
  });

  test("with ignoreRange it answers 200 with the whole body to a Range request", async () => {
    const faulty = await startOtaServer({ dir, faults: { ignoreRange: true } });
    try {
      const r = await new Promise<number>((resolve) =>
        request({ host: "127.0.0.1", port: faulty.port, path: "/fw.bin", headers: { Range: "bytes=5-" } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        }).end(),
      );
      expect(r).toBe(200);
    } finally {
      await faulty.close();
    }
  });

  test("the CLI subcommand serves until aborted", async () => {
    const lines: string[] = [];
    const abort = new AbortController();
    const done = main(["serve", dir, "--port", "0"], { out: (l) => lines.push(l), err: (l) => lines.push(l) }, abort.signal);
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(lines[0]).toMatch(/^serving .* on http:\/\/127\.0\.0\.1:\d+\/$/);
    abort.abort();
    expect(await done).toBe(0);
  });
});

describe("Range header parsing (RFC 9110 §14.1.2)", () => {
  test("covers first-last, open-ended, suffix, unsatisfiable and ignored forms", () => {
    expect(parseRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange("bytes=90-200", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=50-", 100)).toEqual({ start: 50, end: 99 });
    expect(parseRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=100-", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-1,5-6", 100)).toBeUndefined();
    expect(parseRange("items=0-1", 100)).toBeUndefined();
    expect(parseRange("bytes=9-1", 100)).toBeUndefined();
    expect(parseRange(undefined, 100)).toBeUndefined();
  });
});
