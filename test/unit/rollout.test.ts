/**
 * The staged rollout core (cli/rollout.ts) on a fake clock: devices' replies
 * and announces + now in, actions out.
 */
import { describe, expect, test } from "vitest";
import { parseAmount, resolveAmount, resultTable, Rollout, RolloutError, type RolloutAction, type RolloutSnapshot } from "../../cli/rollout.js";

const ids = (n: number) => Array.from({ length: n }, (_, i) => `dev-${String(i).padStart(2, "0")}`);
const sends = (actions: RolloutAction[]) => actions.filter((a) => a.type === "send").map((a) => (a as { id: string }).id);
const stages = (actions: RolloutAction[]) => actions.filter((a) => a.type === "stage").map((a) => (a as { ids: readonly string[] }).ids.length);

/** A rollout of v2 to devices on v1 (boot 1, ota_0) that announced themselves. */
function started(n: number, options: Partial<ConstructorParameters<typeof Rollout>[1]> = {}, t = 0) {
  const r = new Rollout(ids(n), { version: "2.0.0", ...options });
  for (const id of ids(n)) r.baseline(id, { version: "1.0.0", boot: 1, slot: "ota_0", slotState: "valid" });
  const first = r.handle({ type: "start" }, t);
  return { r, first };
}

/** The device installs, reboots and comes back: on v2 kept (good) or back on v1 (rolled back). */
function update(r: Rollout, id: string, t: number, outcome: "good" | "rollback" | "pending"): RolloutAction[] {
  const out = [
    ...r.handle({ type: "reply", id, reply: { type: "progress", detail: "download 4096/8192" } }, t),
    ...r.handle({ type: "reply", id, reply: { type: "done", detail: "firmware 2.0.0 installed", reboot: true } }, t + 1),
  ];
  if (outcome === "good") out.push(...r.handle({ type: "announce", id, announce: { version: "2.0.0", boot: 2, slot: "ota_1", slotState: "valid" } }, t + 2));
  else if (outcome === "pending") out.push(...r.handle({ type: "announce", id, announce: { version: "2.0.0", boot: 2, slot: "ota_1", slotState: "pending-verify" } }, t + 2));
  else out.push(...r.handle({ type: "announce", id, announce: { version: "1.0.0", boot: 3, slot: "ota_0", slotState: "valid" } }, t + 2));
  return out;
}

describe("amounts", () => {
  test("a count or a percentage of the targets, rounded up, clamped", () => {
    expect(parseAmount("5", "--canary")).toEqual({ count: 5 });
    expect(parseAmount("10%", "--wave")).toEqual({ percent: 10 });
    expect(resolveAmount({ percent: 10 }, 55)).toBe(6);
    expect(resolveAmount({ percent: 10 }, 50)).toBe(5);
    expect(resolveAmount({ count: 80 }, 50)).toBe(50);
    expect(resolveAmount({ percent: 0 }, 50)).toBe(0);
    for (const bad of ["", "x", "-1", "5.5", "101%", "10 %%"]) expect(() => parseAmount(bad, "--wave")).toThrow(RolloutError);
  });
});

describe("stages", () => {
  test("the canary first; a wave starts only when the stage before it has ended", () => {
    const { r, first } = started(10, { canary: { count: 2 }, wave: { count: 4 } });
    expect(stages(first)).toEqual([2]);
    expect(sends(first)).toEqual(["dev-00", "dev-01"]);
    // one canary device done: nothing new goes out yet
    expect(sends(update(r, "dev-00", 10, "good"))).toEqual([]);
    const next = update(r, "dev-01", 20, "good");
    expect(stages(next)).toEqual([4]);
    expect(sends(next)).toEqual(["dev-02", "dev-03", "dev-04", "dev-05"]);
    let last: RolloutAction[] = [];
    for (const id of ["dev-02", "dev-03", "dev-04", "dev-05"]) last = update(r, id, 30, "good");
    expect(sends(last)).toEqual(["dev-06", "dev-07", "dev-08", "dev-09"]);
    for (const id of ["dev-06", "dev-07", "dev-08", "dev-09"]) last = update(r, id, 40, "good");
    expect(last.at(-1)).toEqual({ type: "finished" });
    expect(r.state).toBe("finished");
    expect(r.devices.map((d) => d.stage)).toEqual([0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    expect(r.devices.every((d) => d.phase === "succeeded")).toBe(true);
  });

  test("percentages: --canary 10% --wave 25% of 50 devices is 5, then waves of 13", () => {
    const { r, first } = started(50, { canary: { percent: 10 }, wave: { percent: 25 } });
    const sizes = [...stages(first)];
    let pending = [...sends(first)];
    for (let i = 0; i < 20 && pending.length > 0; i++) {
      const now: RolloutAction[] = [];
      for (const id of pending) now.push(...update(r, id, 100 * i, "good"));
      sizes.push(...stages(now));
      pending = sends(now);
    }
    expect(sizes).toEqual([5, 13, 13, 13, 6]);
    expect(r.state).toBe("finished");
  });

  test("no canary (--canary 0): waves from the start", () => {
    const { first } = started(6, { canary: { count: 0 }, wave: { count: 3 } });
    expect(stages(first)).toEqual([3]);
  });

  test("a device listed twice goes out once", () => {
    const r = new Rollout(["a", "b", "a"], { version: "2.0.0", canary: { count: 5 } });
    expect(sends(r.handle({ type: "start" }, 0))).toEqual(["a", "b"]);
  });
});

describe("a device's verdict", () => {
  test("'done' is not success: the announce of the new version with the slot kept is", () => {
    const { r } = started(1);
    update(r, "dev-00", 0, "pending");
    expect(r.devices[0].phase).toBe("rebooting");
    const out = r.handle({ type: "announce", id: "dev-00", announce: { version: "2.0.0", boot: 2, slot: "ota_1", slotState: "valid" } }, 5);
    expect(out).toContainEqual({ type: "result", id: "dev-00", ok: true, detail: "2.0.0 on ota_1" });
    expect(r.devices[0].last).toEqual({ version: "2.0.0", boot: 2, slot: "ota_1", slotState: "valid" });
  });

  test("an announce of the old version before the reboot is not a rollback; after it, it is", () => {
    const { r } = started(1);
    r.handle({ type: "reply", id: "dev-00", reply: { type: "done", detail: "installed", reboot: true } }, 1);
    r.handle({ type: "announce", id: "dev-00", announce: { version: "1.0.0", boot: 1, slot: "ota_0", slotState: "valid" } }, 2);
    expect(r.devices[0].phase).toBe("rebooting");
    const out = r.handle({ type: "announce", id: "dev-00", announce: { version: "1.0.0", boot: 3, slot: "ota_0", slotState: "valid" } }, 3);
    expect(out).toContainEqual(expect.objectContaining({ type: "result", id: "dev-00", ok: false, code: "rollback" }));
  });

  test("an error reply fails the device with its code; up-to-date counts as done", () => {
    const { r } = started(2, { canary: { count: 2 }, maxFailures: { count: 5 } });
    r.handle({ type: "reply", id: "dev-00", reply: { type: "error", code: "wrong-board", detail: "wrong-board: sim != esp32" } }, 1);
    r.handle({ type: "reply", id: "dev-01", reply: { type: "error", code: "up-to-date", detail: "up-to-date: 2.0.0" } }, 1);
    expect(r.devices.map((d) => [d.phase, d.code])).toEqual([
      ["failed", "wrong-board"],
      ["succeeded", undefined],
    ]);
  });

  test("silence ends in a timeout on the clock; while rebooting the device is asked to announce", () => {
    const { r } = started(2, { deviceTimeoutMs: 60_000, helloEveryMs: 5000 });
    expect(r.nextDeadline()).toBe(60_000);
    r.handle({ type: "reply", id: "dev-00", reply: { type: "done", detail: "installed", reboot: true } }, 1000);
    expect(r.nextDeadline()).toBe(6000);
    expect(r.handle({ type: "tick" }, 5999)).toEqual([]);
    expect(r.handle({ type: "tick" }, 6000)).toEqual([{ type: "hello", id: "dev-00" }]);
    expect(r.nextDeadline()).toBe(11_000);
    const out = r.handle({ type: "tick" }, 60_000);
    expect(out).toContainEqual(expect.objectContaining({ type: "result", id: "dev-00", ok: false, code: "timeout" }));
    expect(out.at(-1)).toEqual({ type: "halt", failures: 1, maxFailures: 0 });
    expect(r.nextDeadline()).toBeUndefined();
  });

  test("replies from devices not in flight and junk are ignored", () => {
    const { r } = started(3, { canary: { count: 1 } });
    expect(r.handle({ type: "reply", id: "dev-02", reply: { type: "done" } }, 1)).toEqual([]);
    expect(r.handle({ type: "reply", id: "stranger", reply: { type: "error", code: "x" } }, 1)).toEqual([]);
    expect(r.handle({ type: "reply", id: "dev-00", reply: { type: 42 } }, 1)).toEqual([]);
    expect(r.devices.map((d) => d.phase)).toEqual(["sent", "waiting", "waiting"]);
  });
});

describe("halting", () => {
  test("a bad image: the canary rolls back, the rollout halts after it and no wave goes out", () => {
    const { r, first } = started(50, { canary: { count: 5 }, wave: { percent: 25 } });
    const out: RolloutAction[] = [];
    for (const id of sends(first)) out.push(...update(r, id, 10, "rollback"));
    expect(sends(out)).toEqual([]);
    expect(out.at(-1)).toEqual({ type: "halt", failures: 5, maxFailures: 0 });
    expect(r.state).toBe("halted");
    expect(r.devices.filter((d) => d.phase === "failed").map((d) => d.code)).toEqual(Array(5).fill("rollback"));
    expect(r.devices.filter((d) => d.phase === "waiting")).toHaveLength(45);
  });

  test("--max-failures 10% of 20 (2): two failures go on, the third halts once the wave in flight has ended", () => {
    const { r, first } = started(20, { canary: { count: 2 }, wave: { count: 6 }, maxFailures: { percent: 10 } });
    let out = [...update(r, "dev-00", 1, "good"), ...update(r, "dev-01", 1, "rollback")];
    const wave = sends(out);
    expect(sends(first)).toHaveLength(2);
    expect(wave).toHaveLength(6);
    out = update(r, wave[0], 2, "rollback");
    expect(r.state).toBe("running");
    out = update(r, wave[1], 3, "rollback"); // third failure: no new stage, the rest of the wave runs on
    expect(r.state).toBe("halting");
    for (const id of wave.slice(2)) out = update(r, id, 4, "good");
    expect(sends(out)).toEqual([]);
    expect(out.at(-1)).toEqual({ type: "halt", failures: 3, maxFailures: 2 });
  });
});

describe("resume", () => {
  test("from the state file: the succeeded are left alone, the failed and the rest go out in waves", () => {
    const { r } = started(10, { canary: { count: 2 }, wave: { count: 4 } });
    update(r, "dev-00", 1, "good");
    update(r, "dev-01", 1, "rollback");
    expect(r.state).toBe("halted");
    const file = JSON.parse(JSON.stringify(r.snapshot())) as RolloutSnapshot;
    expect(file.state).toBe("halted");

    const again = Rollout.resume(file, { maxFailures: { count: 1 } });
    expect(again.failures).toBe(0);
    const first = again.handle({ type: "start" }, 100);
    // a device took the update: the canary is done, a wave of 4 goes out, numbered after the last stage
    expect(first.find((a) => a.type === "stage")).toEqual({ type: "stage", stage: 1, ids: ["dev-01", "dev-02", "dev-03", "dev-04"] });
    expect(again.devices[0].phase).toBe("succeeded");
    let last: RolloutAction[] = [];
    let pending = sends(first);
    for (let i = 0; i < 5 && pending.length > 0; i++) {
      last = [];
      for (const id of pending) last.push(...update(again, id, 200 + i, "good"));
      pending = sends(last);
    }
    expect(last.at(-1)).toEqual({ type: "finished" });
    expect(sends(first).includes("dev-00")).toBe(false);
    expect(() => Rollout.resume(again.snapshot())).toThrow(/finished/);
  });

  test("halted in the canary with nothing succeeded: the resume runs a canary again", () => {
    const { r, first } = started(10, { canary: { count: 2 } });
    for (const id of sends(first)) update(r, id, 1, "rollback");
    const again = Rollout.resume(r.snapshot());
    expect(stages(again.handle({ type: "start" }, 10))).toEqual([2]);
  });

  test("a file that is not a state file is refused", () => {
    expect(() => Rollout.resume({ format: 2 } as unknown as RolloutSnapshot)).toThrow(RolloutError);
  });
});

test("failures in the last stage: nothing is held back, so the rollout finishes (with its failures), not halts", () => {
  const { r, first } = started(2, { canary: { count: 1 } });
  update(r, sends(first)[0], 1, "good");
  const out = update(r, "dev-01", 2, "rollback");
  expect(out.at(-1)).toEqual({ type: "finished" });
  expect(r.state).toBe("finished");
  expect(r.failures).toBe(1);
});

test("the result table: one row per device, stage, result, version/slot before and after, why", () => {
  const { r } = started(3, { canary: { count: 1 }, wave: { count: 1 }, maxFailures: { count: 1 } });
  update(r, "dev-00", 0, "good");
  update(r, "dev-01", 1000, "rollback");
  const rows = resultTable(r.devices);
  expect(rows[0]).toMatch(/^device\s+stage\s+result\s+version\/slot\s+time\s+detail$/);
  expect(rows[1]).toMatch(/^dev-00\s+canary\s+ok\s+1\.0\.0@ota_0 -> 2\.0\.0@ota_1\s+0\.0 s$/);
  expect(rows[2]).toMatch(/^dev-01\s+wave 1\s+FAILED rollback\s+1\.0\.0@ota_0 -> 1\.0\.0@ota_0\s+1\.0 s\s+rebooted into 1\.0\.0 on ota_0/);
  expect(rows[3]).toMatch(/^dev-02\s+wave 2\s+sent/);
});
