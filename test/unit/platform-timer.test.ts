import { describe, expect, test } from "vitest";
import { now } from "../../src/platform/clock.js";
import { Alarm, clearTimer, setRepeating, setTimer } from "../../src/platform/timer.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("platform clock and timers (Node twins of time/timer)", () => {
  test("now() is monotonic integer milliseconds", async () => {
    const a = now();
    await sleep(5);
    const b = now();
    expect(Number.isInteger(a)).toBe(true);
    expect(b).toBeGreaterThanOrEqual(a);
  });

  test("a one-shot timer fires once and a cleared one never", async () => {
    let fired = 0;
    let cleared = 0;
    setTimer(() => fired++, 1);
    const h = setTimer(() => cleared++, 1);
    clearTimer(h);
    clearTimer(undefined);
    await sleep(30);
    expect(fired).toBe(1);
    expect(cleared).toBe(0);
  });

  test("a repeating timer fires until cleared", async () => {
    let count = 0;
    const h = setRepeating(() => count++, 2);
    for (let i = 0; i < 100 && count < 3; i++) await sleep(5);
    clearTimer(h);
    const at = count;
    await sleep(20);
    expect(at).toBeGreaterThanOrEqual(3);
    expect(count).toBe(at);
  });

  test("an alarm fires once at its deadline, re-arming moves it, undefined disarms", async () => {
    const fired: number[] = [];
    const alarm = new Alarm(() => fired.push(now()));
    const start = now();
    alarm.arm(start + 1000);
    alarm.arm(start + 5); // moved earlier: only this one fires
    for (let i = 0; i < 100 && fired.length === 0; i++) await sleep(5);
    expect(fired.length).toBe(1);
    expect(fired[0]).toBeGreaterThanOrEqual(start + 5);
    alarm.arm(now() + 5);
    alarm.arm(undefined);
    await sleep(30);
    expect(fired.length).toBe(1);
  });

  test("a deadline in the past fires on a later turn, never inside arm()", async () => {
    let fired = 0;
    const alarm = new Alarm(() => fired++);
    alarm.arm(now() - 100);
    expect(fired).toBe(0);
    for (let i = 0; i < 50 && fired === 0; i++) await sleep(2);
    expect(fired).toBe(1);
  });

  test("a closed alarm never fires and ignores arm()", async () => {
    let fired = 0;
    const alarm = new Alarm(() => fired++);
    alarm.arm(now() + 2);
    alarm.close();
    alarm.arm(now() + 2);
    await sleep(30);
    expect(fired).toBe(0);
  });
});
