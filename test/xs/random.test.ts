/**
 * Randomness differs between processes (issue 16, item 3): XS's Math.random is
 * the C library's rand(), which the xsnap worker never seeds, so every XS
 * process drew the same numbers — the same MQTT client id (two clients then
 * take over each other's session), CoAP message ids and tokens. Each engine
 * is now seeded from the operating system's entropy (host-shim/xs/engine.ts,
 * randomPrelude). The Moddable runtime's half is test/moddable/random.test.ts.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bundleForXs, randomPrelude, startXs } from "../../host-shim/xs/engine.js";
import { recordClientIds, type ClientIdRecorder } from "../helpers/client-ids.js";

const root = join(__dirname, "..", "..");

async function drawsOfOneEngine(): Promise<number[]> {
  const xs = await startXs({ bundle: await bundleForXs("test/xs/random-entry.ts"), stdio: "ignore" });
  try {
    return (await xs.call("draw", 8)) as number[];
  } finally {
    await xs.close();
  }
}

describe("Math.random inside XS", () => {
  test("two engines (two xsnap processes) draw different numbers", async () => {
    const [a, b] = await Promise.all([drawsOfOneEngine(), drawsOfOneEngine()]);
    expect(a).not.toEqual(b);
    for (const x of [...a, ...b]) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });

  test("the generator is xoshiro128** (first outputs for the state 1, 2, 3, 4) and fills [0, 1) evenly", () => {
    const seed = Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4);
    const g = { Math: Object.create(Math) as { random(): number } };
    new Function("Math", randomPrelude(seed))(g.Math); // the prelude assigns Math.random of the Math it sees
    // the published sequence: 0x2d00, 0, 0x5a7080, 0x4389d80 (two per double)
    expect(g.Math.random()).toBe(((0x2d00 >>> 5) * 2 ** 26 + (0 >>> 6)) / 2 ** 53);
    expect(g.Math.random()).toBe(((0x5a7080 >>> 5) * 2 ** 26 + (0x4389d80 >>> 6)) / 2 ** 53);
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) buckets[Math.floor(g.Math.random() * 10)]++;
    for (const n of buckets) expect(Math.abs(n - 10_000)).toBeLessThan(600); // > 6 sigma
  });
});

describe("the CLI's MQTT client id, two processes per engine", () => {
  let ids: ClientIdRecorder;
  beforeAll(async () => {
    ids = await recordClientIds();
  });
  afterAll(async () => {
    await ids?.close();
  });

  function pub(engine: string): Promise<number | null> {
    const child = spawn(process.execPath, [join(root, "bin", "mote.mjs"), "mqtt", "pub", "-h", "127.0.0.1", "-p", String(ids.port), "-t", "t", "-m", "x", "--engine", engine], {
      cwd: root,
      stdio: ["ignore", "ignore", "pipe"],
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    return new Promise((resolve) => child.on("close", (code) => (clearTimeout(timer), resolve(code))));
  }

  for (const engine of ["node", "xs"]) {
    test(`--engine ${engine}: each process connects with an id of its own`, async () => {
      const before = ids.ids.length;
      await pub(engine);
      await pub(engine);
      const two = ids.ids.slice(before);
      expect(two.length).toBe(2);
      expect(two[0]).not.toBe(two[1]);
    }, 70_000);
  }
});
