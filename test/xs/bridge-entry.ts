/// <reference path="../../node_modules/@moddable/typings/timer.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/time.d.ts" />
/**
 * XS side of test/xs/bridge.test.ts: exercises the generic bridge through a
 * test-only host module ("mote:test/probe", served by the test) and the real
 * "timer"/"time" host modules.
 */
import Probe from "mote:test/probe";
import Timer from "timer";
import Time from "time";
import Missing from "mote:test/missing";
import { MoteError } from "../../src/errors.js";

type AnyProbe = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const P = Probe as AnyProbe;
const T = Timer as AnyProbe;
const g = globalThis as unknown as Record<string, unknown>;

g.add = (a: { x: number; y: number }) => a.x + a.y;

g.echoThroughHost = (v: unknown) => P.echo(v);

g.bytesSummary = (v: { data: Uint8Array; buffer: ArrayBuffer }) => {
  const d = v.data;
  return { isU8: d instanceof Uint8Array, length: d.length, first: d[0], last: d[d.length - 1], bufferIsAB: v.buffer instanceof ArrayBuffer, bufferLength: v.buffer.byteLength };
};

g.throwInXs = () => {
  throw new MoteError("bad-argument", "from XS");
};

g.rejectInXs = async () => {
  await null;
  throw new Error("async boom");
};

g.hostError = () => {
  try {
    P.fail("bad-thing");
    return "no error";
  } catch (e) {
    const err = e as Error & { code?: string };
    return { name: err.name, message: err.message, code: err.code, isMoteError: e instanceof MoteError };
  }
};

g.counterEvents = () =>
  new Promise((resolve) => {
    const seen: unknown[] = [];
    const counter = new P.Counter({
      step: 2,
      onChange(this: AnyProbe, value: number) {
        seen.push({ value, thisIsCounter: this === counter, viaThisIsLive: this.value >= value });
        if (seen.length === 3) {
          counter.close();
          resolve({ seen, closedFlag: P.isClosed(counter) });
        }
      },
    });
    counter.start(3);
  });

g.handleIdentity = () => {
  const a = P.make("a");
  const b = P.make("b");
  const again = P.same(a);
  return { sameProxy: again === a, names: [P.nameOf(a), P.nameOf(b)], labelGetter: a.label, hasLabel: "label" in a, hasMissing: "nope" in a };
};

g.setProperty = () => {
  const a = P.make("x");
  a.label = "renamed";
  return P.nameOf(a);
};

g.missingModule = () => {
  try {
    new (Missing as AnyProbe)();
    return "no error";
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

g.timers = (args: { count: number }) =>
  new Promise((resolve) => {
    let fired = 0;
    let early = 0;
    for (let i = 0; i < args.count; i++) {
      const delay = (i * 7) % 20;
      const deadline = Time.ticks + delay;
      T.set(() => {
        fired++;
        // XS ticks and Node's timer clock are both monotonic ms; allow 1 ms of rounding.
        if (Time.ticks < deadline - 1) early++;
        if (fired === args.count) resolve({ fired, early });
      }, delay);
    }
  });

g.repeatingTimerThenClear = () =>
  new Promise((resolve) => {
    let n = 0;
    const id = T.repeat(() => {
      n++;
      if (n === 3) {
        // busy for 30 ms first: meanwhile the timer fires on the Node side and its
        // events queue up; cleared, none of them may call back
        const until = Time.ticks + 30;
        while (Time.ticks < until) P.inc(0);
        T.clear(id);
        T.set(() => resolve(n), 30);
      }
    }, 2);
  });

g.leaveOpen = () => {
  new P.Counter({ step: 1, onChange() {} }).start(1000);
  T.repeat(() => {}, 10);
  return "left open";
};

g.ticks = () => {
  const a = Time.ticks;
  let x = 0;
  for (let i = 0; i < 100000; i++) x += i;
  const b = Time.ticks;
  return { monotonic: b >= a, type: typeof a, x: x > 0 };
};

g.roundTrips = (args: { n: number }) => {
  let sum = 0;
  for (let i = 0; i < args.n; i++) sum += P.inc(i) as number;
  return sum;
};

g.spin = () => {
  for (;;) {
    /* a runaway loop */
  }
};
