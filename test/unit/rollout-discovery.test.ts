/**
 * The device side of rollout discovery (src/app/device.ts): the exact topic
 * `P/fleet/hello` and `P/ID/cmd/hello` are answered on `P/ID/announce` with
 * id, version, boot and the OTA slot; a flood of hellos gets one answer a
 * second; a connect always announces.
 */
import { expect, test } from "vitest";
import { startRig } from "./app-harness.js";
import { ANNOUNCE_GAP_MS } from "../../src/app/device.js";

const ID = "mote-240ac4000001";
const T = `mote/${ID}`;

function rig(firmware: () => { slot: string; state: string } | undefined = () => ({ slot: "ota_1", state: "valid" })) {
  const r = startRig(
    {},
    {
      extra: {
        version: "2.0.0",
        boot: 4,
        ota: { start: () => undefined, firmware },
      },
    },
  );
  r.wifi.up();
  r.link().connect();
  return r;
}

const announces = (r: ReturnType<typeof rig>) => r.link().json(`${T}/announce`) as Record<string, unknown>[];

test("a connect announces: id, version, boot, the running slot and its state", () => {
  const r = rig();
  expect(announces(r)).toEqual([{ id: ID, version: "2.0.0", boot: 4, slot: "ota_1", slotState: "valid", uptimeMs: 0 }]);
  expect(r.link().sent.find((m) => m.topic === `${T}/announce`)).toMatchObject({ qos: 1, retain: false });
});

test("the fleet hello and the device's own hello are answered, at most once per gap; hellos are not commands", () => {
  const r = rig();
  r.host.advance(ANNOUNCE_GAP_MS);
  r.link().deliver("mote/fleet/hello", '{"hello":1}');
  expect(announces(r)).toHaveLength(2);
  for (let i = 0; i < 50; i++) r.link().deliver("mote/fleet/hello", "x".repeat(10_000)); // a flood, payload not even read
  r.link().deliver(`${T}/cmd/hello`, "");
  expect(announces(r)).toHaveLength(2);
  r.host.advance(ANNOUNCE_GAP_MS);
  r.link().deliver(`${T}/cmd/hello`, "");
  expect(announces(r)).toHaveLength(3);
  expect(announces(r)[2]).toMatchObject({ version: "2.0.0", uptimeMs: 2 * ANNOUNCE_GAP_MS });
  const s = r.app.status();
  expect(s.counters.commands).toBe(0);
  expect(s.counters.commandErrors).toBe(0);
  expect(r.link().json(`${T}/error`)).toEqual([]);
});

test("a reconnect announces again even inside the gap (the rollout waits for it after a reboot)", () => {
  const r = rig();
  r.link().drop("reset");
  r.link().connect(true);
  expect(announces(r)).toHaveLength(2);
});

test("without OTA slots (no agent, or a host without them) the announce has no slot", () => {
  const plain = startRig({}, { extra: { version: "1.0.0", boot: 1 } });
  plain.wifi.up();
  plain.link().connect();
  const a = plain.link().json(`${T}/announce`) as Record<string, unknown>[];
  expect(a).toEqual([{ id: ID, version: "1.0.0", boot: 1, uptimeMs: 0 }]);
  const failing = rig(() => {
    throw new Error("no mote/ota-boot on this host");
  });
  expect(announces(failing)[0]).toEqual({ id: ID, version: "2.0.0", boot: 4, uptimeMs: 0 });
});

test("another prefix: the hello and the announce follow it", () => {
  const r = startRig({ prefix: "plant/a" }, { extra: { version: "1.0.0" } });
  r.wifi.up();
  r.link().connect();
  expect(r.link().subscriptions).toContain("plant/a/fleet/hello");
  r.host.advance(ANNOUNCE_GAP_MS);
  r.link().deliver("plant/a/fleet/hello", "");
  expect(r.link().json(`plant/a/${ID}/announce`)).toHaveLength(2);
});
