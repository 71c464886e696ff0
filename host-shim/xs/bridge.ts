/**
 * XS side of the simulator bridge. Runs INSIDE xsnap, bundled into dist/sim
 * and into every bundleForXs() output; never part of a device build.
 *
 * Theory of operation
 * - Every host module (timer, embedded:io/socket/tcp, ...) is a stub made by
 *   `remoteModule(specifier)`: its exports are proxies of the Node twin's
 *   exports (host-shim/node/<file>.ts) living in the Node process.
 * - A proxy forwards get/set/call/apply/construct to Node with xsnap's
 *   synchronous `issueCommand`; Node answers with the twin's return value or
 *   exception, so host calls keep their synchronous semantics in XS.
 * - Functions handed to Node (ECMA-419 callbacks: onReadable, onWritable,
 *   onError, timer callbacks) stay here in a table, and Node holds an id.
 *   When Node calls them, the event is queued on the Node side and delivered
 *   here in order, in batches, by the Node side's `handleCommand` ("events").
 *   `this` is the proxy of the host object that called back (the socket), or
 *   else the object constructed with the callback in its options.
 * - Node objects reach XS as handles; a FinalizationRegistry tells Node
 *   when XS forgot one, so the handle table does not grow forever.
 * - The Node side calls `globalThis[name](args)` with an "call" command; a
 *   returned promise is reported back with a "settle" request once it settles.
 * See docs/simulator-bridge.md.
 */
import { decodeMessage, encodeMessage, type RefHooks, type Tag } from "./wire.js";
import { MoteError } from "../../src/errors.js";

declare function issueCommand(message: ArrayBuffer): ArrayBuffer;
declare function print(...values: unknown[]): void;

interface Shape {
  /** "f": the Node value is a function or class; "o": an object. */
  k: "f" | "o";
  /** Names of methods (called without a get round trip). */
  m: string[];
}

interface Callback {
  fn: Function;
  owner: WeakRef<object> | undefined;
}

const g = globalThis as unknown as Record<string, unknown>;

/** Handle id -> proxy (weakly: XS code decides the lifetime). */
const proxies = new Map<number, WeakRef<object>>();
/** Proxy -> handle id. */
const handleOf = new WeakMap<object, number>();
/** XS callback id -> function (strongly: until Node forgets it). */
const callbacks = new Map<number, Callback>();
const callbackIds = new Map<Function, number>();
let nextCallbackId = 1;
/** Handle ids XS no longer references, sent to Node with the next message. */
let droppedHandles: number[] = [];
/** Log lines (trace) waiting to go out with the next message. */
let pendingLogs: string[] = [];
/** Callbacks registered while encoding the current request (to attach an owner). */
let collecting: number[] | undefined;

const finalizer = new FinalizationRegistry<number>((id) => {
  const ref = proxies.get(id);
  if (ref !== undefined && ref.deref() === undefined) {
    proxies.delete(id);
    droppedHandles.push(id);
  }
});

const hooks: RefHooks = {
  exportRef(value: object): Tag {
    const h = handleOf.get(value);
    if (h !== undefined) return { $$: "h", id: h };
    if (typeof value === "function") {
      let id = callbackIds.get(value);
      if (id === undefined) {
        id = nextCallbackId++;
        callbackIds.set(value, id);
        callbacks.set(id, { fn: value, owner: undefined });
      }
      collecting?.push(id);
      return { $$: "f", id };
    }
    return { $$: "u" };
  },
  importRef(tag: Tag): unknown {
    if (tag.$$ === "f") return callbacks.get(tag.id as number)?.fn;
    return proxyFor(tag.id as number, tag.sh as Shape | undefined);
  },
  isPlain(value: object): boolean {
    return !handleOf.has(value);
  },
};

function proxyFor(id: number, shape: Shape | undefined): object {
  const existing = proxies.get(id)?.deref();
  if (existing !== undefined) return existing;
  const s: Shape = shape ?? { k: "o", m: [] };
  const methods = new Set(s.m);
  const methodCache = new Map<string, Function>();
  const target = s.k === "f" ? function () {} : {};
  let proxy: object;
  const handler: ProxyHandler<object> = {
    get(_t, key) {
      if (typeof key === "symbol" || key === "then") return undefined;
      if (methods.has(key)) {
        let f = methodCache.get(key);
        if (f === undefined) {
          f = (...args: unknown[]) => request({ op: "call", h: id, m: key, a: args });
          methodCache.set(key, f);
        }
        return f;
      }
      return request({ op: "get", h: id, k: key });
    },
    set(_t, key, value) {
      if (typeof key === "symbol") return false;
      request({ op: "set", h: id, k: key, v: value });
      return true;
    },
    has(_t, key) {
      if (typeof key === "symbol") return false;
      return methods.has(key) || request({ op: "has", h: id, k: key }) === true;
    },
    apply(_t, _this, args) {
      return request({ op: "apply", h: id, a: args });
    },
    construct(_t, args) {
      const before = collecting;
      collecting = [];
      try {
        const made = request({ op: "new", h: id, a: args }) as object;
        const owner = new WeakRef(made);
        for (const cb of collecting) {
          const entry = callbacks.get(cb);
          if (entry !== undefined && entry.owner === undefined) entry.owner = owner;
        }
        return made;
      } finally {
        collecting = before;
      }
    },
  };
  proxy = new Proxy(target, handler);
  proxies.set(id, new WeakRef(proxy));
  handleOf.set(proxy, id);
  finalizer.register(proxy, id);
  return proxy;
}

/** Sends one request to Node and returns its answer, or throws its error. */
function request(body: Record<string, unknown>): unknown {
  if (droppedHandles.length > 0) {
    body.drops = droppedHandles;
    droppedHandles = [];
  }
  if (pendingLogs.length > 0) {
    body.logs = pendingLogs;
    pendingLogs = [];
  }
  const reply = decodeMessage(issueCommand(encodeMessage(body, hooks)), hooks) as { ok?: unknown; err?: unknown };
  if ("err" in reply) throw reviveError(reply.err);
  return reply.ok;
}

function reviveError(err: unknown): unknown {
  if (err instanceof Error && err.name === "MoteError") {
    const code = (err as Error & { code?: string }).code ?? "error";
    const e = new MoteError(code);
    e.message = err.message;
    return e;
  }
  return err;
}

/** Exports of a host module, served by its Node twin. Missing twin: exports that throw on use. */
export function remoteModule(specifier: string): Record<string, unknown> {
  try {
    return request({ op: "import", spec: specifier }) as Record<string, unknown>;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return new Proxy(
      {},
      {
        get(_t, key) {
          if (typeof key === "symbol" || key === "then") return undefined;
          return unavailable(specifier, message);
        },
      },
    ) as Record<string, unknown>;
  }
}

function unavailable(specifier: string, why: string): unknown {
  const fail = () => {
    throw new MoteError("unavailable", `host module "${specifier}" is not available in the simulator (${why})`);
  };
  return new Proxy(function () {}, { get: fail, apply: fail, construct: fail });
}

/** A line for `engine.logs` (the Node side prints or keeps it). */
export function hostLog(line: string): void {
  pendingLogs.push(line);
}

let traceLine = "";
/** Moddable's global trace(): text, lines end with "\n". */
function trace(...parts: unknown[]): void {
  traceLine += parts.map((p) => String(p)).join("");
  let nl = traceLine.indexOf("\n");
  while (nl >= 0) {
    pendingLogs.push(traceLine.slice(0, nl));
    traceLine = traceLine.slice(nl + 1);
    nl = traceLine.indexOf("\n");
  }
}

function deliverEvents(events: unknown[][]): void {
  for (const [id, thisArg, args] of events) {
    const entry = callbacks.get(id as number);
    if (entry === undefined) continue;
    const self = thisArg ?? entry.owner?.deref();
    try {
      entry.fn.apply(self, args as unknown[]);
    } catch (e) {
      pendingLogs.push(`uncaught exception in callback: ${describe(e)}`);
    }
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

function settle(callId: number, ok: boolean, value: unknown): void {
  try {
    request({ op: "settle", id: callId, ok, v: value });
  } catch (e) {
    // The result could not be encoded: report that instead.
    request({ op: "settle", id: callId, ok: false, v: new Error(`result not transferable: ${describe(e)}`) });
  }
}

function dispatch(message: { op: string; [k: string]: unknown }): unknown {
  switch (message.op) {
    case "events":
      for (const id of (message.drops as number[] | undefined) ?? []) {
        const entry = callbacks.get(id);
        if (entry !== undefined) {
          callbacks.delete(id);
          callbackIds.delete(entry.fn);
        }
      }
      deliverEvents(message.ev as unknown[][]);
      return { ok: undefined };
    case "call": {
      const fn = g[message.name as string];
      if (typeof fn !== "function") return { err: new Error(`no global function ${String(message.name)} in XS`) };
      const result = (fn as Function)(message.a);
      if (result !== null && typeof result === "object" && typeof (result as Promise<unknown>).then === "function") {
        const callId = message.id as number;
        (result as Promise<unknown>).then(
          (v) => settle(callId, true, v),
          (e) => settle(callId, false, e),
        );
        return { pending: true };
      }
      return { ok: result };
    }
    case "gc":
      (g.gc as () => void)();
      return { ok: undefined };
    case "stats":
      return { ok: { proxies: proxies.size, callbacks: callbacks.size } };
    default:
      return { err: new Error(`unknown bridge op ${message.op}`) };
  }
}

/** Installs the bridge's command handler and trace(); idempotent. */
export function installBridge(): void {
  if (g.__moteBridge === true) return;
  g.__moteBridge = true;
  if (typeof g.trace !== "function") g.trace = trace;
  g.handleCommand = (message: ArrayBuffer): ArrayBuffer => {
    let reply: Record<string, unknown>;
    try {
      reply = dispatch(decodeMessage(message, hooks) as { op: string }) as Record<string, unknown>;
    } catch (e) {
      reply = { err: e };
    }
    if (droppedHandles.length > 0) {
      reply.drops = droppedHandles;
      droppedHandles = [];
    }
    if (pendingLogs.length > 0) {
      reply.logs = pendingLogs;
      pendingLogs = [];
    }
    try {
      return encodeMessage(reply, hooks);
    } catch (e) {
      return encodeMessage({ err: new Error(`reply not transferable: ${describe(e)}`) }, hooks);
    }
  };
}

installBridge();
