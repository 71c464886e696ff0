/**
 * The Node side of the XS bridge (host-shim/xs/host.ts), driven by a fake XS
 * that speaks the wire format: the order in which XS hears of a fired timer's
 * event and of the timer being finished. XS releases a finished host object's
 * callbacks once its proxy is collected, so the event must reach XS first;
 * else the callback is gone when the event comes, and the timer never fires in
 * XS (what left the simulated device's first MQTT attempt hanging for 30 s:
 * its DNS answer, a 0 ms timer, never came).
 */
import { describe, expect, test } from "vitest";
import { HostBridge } from "../../host-shim/xs/host.js";
import { decodeMessage, encodeMessage, type RefHooks, type Tag } from "../../host-shim/xs/wire.js";

/** XS's side of the wire, reduced to what the test needs: callbacks by id, handles by id. */
const xsHooks: RefHooks = {
  exportRef: (value: object): Tag => ({ $$: "f", id: (value as { id: number }).id }),
  importRef: (tag: Tag): unknown => ({ tag }),
  isPlain: (value: object) => !("id" in value && typeof (value as { fn?: unknown }).fn === "function"),
};
const callback = (id: number) => ({ id, fn: () => undefined });
const toBuffer = (u: Uint8Array) => u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;

/** A timer module whose timers fire only when the test says. */
class ManualTimers {
  static pending: (() => void)[] = [];
  static set(cb: (t: unknown) => void): ManualTimers {
    const t = new ManualTimers();
    ManualTimers.pending.push(() => cb(t));
    return t;
  }
  static clear(): void {}
}

describe("events and finished handles", () => {
  test("a fired one-shot timer is told finished only after its event, even while XS is busy with an earlier batch", async () => {
    const sent: Record<string, unknown>[] = [];
    let release: (() => void) | undefined;
    const bridge = new HostBridge({
      loadModule: async () => ({ default: ManualTimers }),
      send: (message) => {
        sent.push(decodeMessage(toBuffer(message), xsHooks) as Record<string, unknown>);
        // XS is busy with this batch until the test releases it
        return new Promise((resolve) => (release = () => resolve(new Uint8Array(encodeMessage({ ok: undefined }, xsHooks)))));
      },
      onLog: () => undefined,
      onSettle: () => undefined,
    });
    const ask = async (body: Record<string, unknown>) =>
      decodeMessage(toBuffer(await bridge.handle(new Uint8Array(encodeMessage(body, xsHooks)))), xsHooks) as Record<string, unknown>;

    const mod = (await ask({ op: "import", spec: "timer" })).ok as { default: { tag: Tag } };
    const timerClass = mod.default.tag.id as number;
    await ask({ op: "call", h: timerClass, m: "set", a: [callback(1), 0] }); // timer A
    const b = (await ask({ op: "call", h: timerClass, m: "set", a: [callback(2), 0] })).ok as { tag: Tag }; // timer B

    ManualTimers.pending[0](); // A fires: its batch goes to XS, which is busy with it
    await new Promise((r) => setTimeout(r, 0));
    expect(sent.length).toBe(1);
    ManualTimers.pending[1](); // B fires while XS runs A's callback
    // A's callback makes a host call: the reply must not say B is finished, B's event is not in XS yet
    const reply = await ask({ op: "log" });
    expect(reply.fin ?? []).not.toContain(b.tag.id);
    release!();
    await new Promise((r) => setTimeout(r, 0));
    // the next batch carries B's event, and B finished with it
    expect(sent.length).toBe(2);
    expect((sent[1].ev as unknown[][]).map((e) => e[0])).toEqual([2]);
    expect(sent[1].fin).toContain(b.tag.id);
    release!();
  });
});
