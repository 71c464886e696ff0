import { describe, expect, test } from "vitest";
import {
  decideBoot,
  decideModLoad,
  decodeBootRecord,
  decodeModRecord,
  EMPTY_SLOT,
  encodeBootRecord,
  encodeModRecord,
  HealthCheck,
  markInvalid,
  markValid,
  NO_MOD,
  switchTo,
  type BootRecord,
  type SlotRecord,
} from "../../src/ota/boot.js";
import { Journal } from "../../src/ota/journal.js";
import { crc32 } from "../../src/util/crc32.js";
import { MemFlash } from "./ota-fakes.js";

const digest = (n: number) => new Uint8Array(32).fill(n);
const slot = (version: string, state: SlotRecord["state"], minVersion = ""): SlotRecord => ({ state, size: 1000, sha256: digest(version.length), version, minVersion });
const V1_RUNNING: BootRecord = { active: 0, attempts: 0, slots: [slot("1.0.0", "valid"), EMPTY_SLOT], floor: "" };
const allOk = () => true;

describe("firmware boot rules (ESP-IDF app rollback)", () => {
  test("a valid slot boots as is", () => {
    expect(decideBoot(V1_RUNNING, allOk)).toMatchObject({ boot: 0, reason: "normal", changed: false });
  });

  test("a new image boots once as pending-verify, and is committed by markValid", () => {
    const switched = switchTo(V1_RUNNING, 1, { size: 2000, sha256: digest(9), version: "2.0.0", minVersion: "1.5.0" });
    const first = decideBoot(switched, allOk);
    expect(first).toMatchObject({ boot: 1, reason: "first-boot" });
    expect(first.record.slots[1].state).toBe("pending-verify");
    const committed = markValid(first.record);
    expect(committed.slots[1].state).toBe("valid");
    expect(committed.floor).toBe("1.5.0");
    expect(decideBoot(committed, allOk)).toMatchObject({ boot: 1, reason: "normal" });
  });

  test("a pending image booted again without being confirmed rolls back to the previous slot", () => {
    const first = decideBoot(switchTo(V1_RUNNING, 1, { size: 2000, sha256: digest(9), version: "2.0.0", minVersion: "" }), allOk);
    const second = decideBoot(first.record, allOk);
    expect(second).toMatchObject({ boot: 0, reason: "rollback" });
    expect(second.record.slots[1].state).toBe("invalid");
    expect(decideBoot(second.record, allOk)).toMatchObject({ boot: 0, reason: "normal" });
  });

  test("with maxPendingBoots 3 a crashing image gets three boots, then rolls back", () => {
    let r = switchTo(V1_RUNNING, 1, { size: 2000, sha256: digest(9), version: "2.0.0", minVersion: "" });
    const boots: Array<number | undefined> = [];
    for (let i = 0; i < 4; i++) {
      const d = decideBoot(r, allOk, 3);
      boots.push(d.boot);
      r = d.record;
    }
    expect(boots).toEqual([1, 1, 1, 0]);
  });

  test("an image that does not verify is never booted", () => {
    const switched = switchTo(V1_RUNNING, 1, { size: 2000, sha256: digest(9), version: "2.0.0", minVersion: "" });
    const d = decideBoot(switched, (s) => s === 0);
    expect(d).toMatchObject({ boot: 0, reason: "image-invalid" });
    expect(d.record.slots[1].state).toBe("invalid");
  });

  test("the app giving up on its image (markInvalid) boots the previous one next", () => {
    const first = decideBoot(switchTo(V1_RUNNING, 1, { size: 2000, sha256: digest(9), version: "2.0.0", minVersion: "" }), allOk);
    expect(decideBoot(markInvalid(first.record), allOk)).toMatchObject({ boot: 0 });
  });

  test("no bootable image at all is reported, not guessed", () => {
    const broken: BootRecord = { active: 0, attempts: 0, slots: [slot("1.0.0", "invalid"), EMPTY_SLOT], floor: "" };
    expect(decideBoot(broken, allOk)).toMatchObject({ boot: undefined, reason: "no-bootable-image" });
  });

  test("switching onto the running valid slot is refused", () => {
    expect(() => switchTo(V1_RUNNING, 0, { size: 1, sha256: digest(1), version: "2.0.0", minVersion: "" })).toThrow(/bad-state/);
  });

  test("the record round-trips through its byte encoding and refuses garbage", () => {
    const r = markValid(decideBoot(switchTo(V1_RUNNING, 1, { size: 77, sha256: digest(3), version: "2.0.0-rc.1+b7", minVersion: "1.0.0" }), allOk).record);
    expect(decodeBootRecord(encodeBootRecord(r))).toEqual(r);
    expect(decodeBootRecord(new Uint8Array(10))).toBeUndefined();
    const bad = encodeBootRecord(r);
    bad[2] = 99;
    expect(decodeBootRecord(bad)).toBeUndefined();
    expect(() => encodeBootRecord({ ...r, floor: "1.0.0-" + "x".repeat(40) })).toThrow(/too-large/);
  });
});

describe("mods", () => {
  const installed = { state: "installed" as const, version: "0.2.0", boots: 0 };
  test("load only when installed and the header is present", () => {
    expect(decideModLoad(NO_MOD, true).load).toBe(false);
    expect(decideModLoad(installed, false).load).toBe(false);
    expect(decideModLoad(installed, true)).toMatchObject({ load: true, record: { boots: 1 } });
  });

  test("a mod that keeps crashing is disabled after maxModCrashes boots", () => {
    let r = installed as import("../../src/ota/boot.js").ModRecord;
    const loads: boolean[] = [];
    let disabled = false;
    for (let i = 0; i < 5; i++) {
      const d = decideModLoad(r, true, 2);
      loads.push(d.load);
      disabled ||= d.disable;
      r = d.record;
    }
    expect(loads).toEqual([true, true, false, false, false]);
    expect(disabled).toBe(true);
    expect(r.state).toBe("disabled");
  });

  test("the mod record round-trips and refuses garbage", () => {
    expect(decodeModRecord(encodeModRecord(installed))).toEqual(installed);
    expect(decodeModRecord(new Uint8Array([0xff, 0xfe]))).toBeUndefined();
    expect(decodeModRecord(new TextEncoder().encode('{"s":"x","v":"1","b":0}'))).toBeUndefined();
  });
});

describe("the two-sector journal", () => {
  test("keeps the newest intact copy across torn writes", () => {
    const flash = new MemFlash(4 * 4096);
    const j = new Journal(flash, 2);
    expect(j.load()).toBeUndefined();
    j.save(new Uint8Array([1]));
    j.save(new Uint8Array([2]));
    expect(j.load()?.payload).toEqual(new Uint8Array([2]));
    // tear the next save: erase happens, the write never lands
    const realWrite = flash.write.bind(flash);
    flash.write = () => {};
    j.save(new Uint8Array([3]));
    flash.write = realWrite;
    expect(j.load()?.payload).toEqual(new Uint8Array([2]));
    j.save(new Uint8Array([4]));
    expect(j.load()?.payload).toEqual(new Uint8Array([4]));
  });

  test("a flipped bit in a copy is caught by its CRC", () => {
    const flash = new MemFlash(2 * 4096);
    const j = new Journal(flash, 0);
    j.save(new Uint8Array([7, 7]));
    j.save(new Uint8Array([8, 8]));
    flash.bytes[4096 + 12] ^= 1; // the newest (second) copy lives in sector 1
    expect(j.load()?.payload).toEqual(new Uint8Array([7, 7]));
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });
});

describe("health check on the fake clock", () => {
  test("WiFi, MQTT and the self-test before the deadline mark the image valid", () => {
    const h = new HealthCheck({ deadlineMs: 60_000 });
    expect(h.handle({ type: "start" }, 0)).toEqual([]);
    expect(h.nextDeadline()).toBe(60_000);
    expect(h.handle({ type: "wifi", up: true }, 1000)).toEqual([]);
    expect(h.handle({ type: "mqtt", connected: true }, 2000)).toEqual([]);
    expect(h.handle({ type: "self-test", ok: true }, 3000)).toEqual([{ type: "mark-valid" }]);
    expect(h.nextDeadline()).toBeUndefined();
  });

  test("the deadline passing first asks for a rollback", () => {
    const h = new HealthCheck({ deadlineMs: 60_000 });
    h.handle({ type: "start" }, 0);
    h.handle({ type: "wifi", up: true }, 10);
    expect(h.handle({ type: "timer" }, 59_999)).toEqual([]);
    expect(h.handle({ type: "timer" }, h.nextDeadline()!)).toEqual([{ type: "rollback", reason: "deadline" }]);
    expect(h.handle({ type: "mqtt", connected: true }, 70_000)).toEqual([]);
  });

  test("a failing self-test asks for a rollback at once; without a broker MQTT is not required", () => {
    const h = new HealthCheck();
    h.handle({ type: "start" }, 0);
    expect(h.handle({ type: "self-test", ok: false, detail: "sensor" }, 5)).toEqual([{ type: "rollback", reason: "self-test-failed", detail: "sensor" }]);
    const n = new HealthCheck({ requireMqtt: false, requireSelfTest: false });
    n.handle({ type: "start" }, 0);
    expect(n.handle({ type: "wifi", up: true }, 1)).toEqual([{ type: "mark-valid" }]);
  });
});
