import { afterAll, beforeAll, expect, test } from "vitest";
import { bundleForXs, startXs, type XsEngine } from "../../host-shim/xs/engine.js";

let xs: XsEngine;
beforeAll(async () => {
  xs = await startXs({ bundle: await bundleForXs("test/xs/utf8-entry.ts"), name: "utf8" });
});
afterAll(async () => {
  await xs?.close();
});

test("inside XS, a 64 KB ASCII payload decodes without overflowing the engine's stack", async () => {
  expect(await xs.call("decodeLarge", { size: 65_536 })).toEqual({ length: 65_536, last: "z", reencoded: 65_538 });
});
