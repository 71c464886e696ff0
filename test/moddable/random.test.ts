/**
 * Moddable tier: randomness differs between processes of Moddable's runtime
 * (issue 16, item 3). XS's Math.random there is the C library's rand(), which
 * Moddable never seeds on lin; boards/desktop/process.c seeds it from the
 * operating system's entropy when the runtime loads. Two `mote mqtt pub
 * --engine moddable` processes must connect with different client ids.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { buildModdable } from "../../host-shim/moddable/build.js";
import { findModdable, moddableMissing, type ModdableSdk } from "../../host-shim/moddable/sdk.js";
import { recordClientIds, type ClientIdRecorder } from "../helpers/client-ids.js";

const root = join(__dirname, "..", "..");
const skip = moddableMissing();
let ids: ClientIdRecorder;

beforeAll(async () => {
  if (skip !== undefined) return;
  await buildModdable("tools", findModdable() as ModdableSdk);
  ids = await recordClientIds();
}, 240_000);

afterAll(async () => {
  await ids?.close();
});

function pub(): Promise<number | null> {
  const child = spawn(process.execPath, [join(root, "bin", "mote.mjs"), "mqtt", "pub", "-h", "127.0.0.1", "-p", String(ids.port), "-t", "t", "-m", "x", "--engine", "moddable"], {
    cwd: root,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve) => child.on("close", (code) => (clearTimeout(timer), resolve(code))));
}

test.skipIf(skip !== undefined)("two processes of Moddable's runtime connect with client ids of their own", async () => {
  await pub();
  await pub();
  expect(ids.ids.length).toBe(2);
  expect(ids.ids[0]).not.toBe(ids.ids[1]);
}, 70_000);
