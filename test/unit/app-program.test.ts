/**
 * The program's opt-in parts (src/app/program.ts `startDevice`) on Node's twins:
 * CoAP comes only with `coap` — without it a configured `coapObserve` starts
 * no relation and is reported as a problem; with it each URI is a part. No
 * broker is configured, so nothing leaves the machine (the CoAP server is a
 * closed loopback port: the relation fails and is retried, which is all this
 * test needs to see it exists).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { startDevice } from "../../src/app/program.js";
import { platformCoap } from "../../src/app/adapters/coap.js";
import type { DeviceApp } from "../../src/app/device.js";
import { configureHardware } from "../../host-shim/node/hardware.js";
import { setBuildConfig } from "../../host-shim/node/config.js";

const URI = "coap://127.0.0.1:9/sensor";
const NO_COAP = "coapObserve: this build has no CoAP client";

describe("startDevice: CoAP is a part the caller passes", () => {
  let state: string;
  let app: DeviceApp | undefined;

  beforeAll(() => {
    state = mkdtempSync(join(tmpdir(), "mote-program-"));
    configureHardware({ stateDir: state });
    setBuildConfig({ coapObserve: URI, clientId: "program-1", sntp: undefined });
  });
  afterEach(() => {
    app?.stop();
    app = undefined;
  });
  afterAll(() => {
    setBuildConfig({ coapObserve: undefined, clientId: undefined });
    rmSync(state, { recursive: true, force: true });
  });

  test("without `coap`, a configured observation is no part and is reported in status().problems", () => {
    app = startDevice();
    const s = app.status();
    expect(s.problems).toContain(NO_COAP);
    expect(Object.keys(s.parts)).not.toContain(`coap:${URI}`);
  });

  test("with `coap: platformCoap`, each configured URI is a supervised part and nothing is reported", () => {
    app = startDevice({ coap: platformCoap });
    const s = app.status();
    expect(s.problems).not.toContain(NO_COAP);
    expect(Object.keys(s.parts)).toContain(`coap:${URI}`);
  });
});
