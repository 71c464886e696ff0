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
  /** The object constructed with this callback in its options (default `this`). */
  owner: WeakRef<object> | undefined;
  /** Handles of the host objects this callback was given to (a socket, a timer). */
  owners: Set<number>;
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
/** Handle ids XS no longer references, with how many times each was received, sent to Node with the next message. */
let droppedHandles: [number, number][] = [];
/** Handle id -> times received since its proxy was made (Node's reference count). */
const received = new Map<number, number>();
/** Shapes by id (one per host class; Node sends each once). */
const shapes = new Map<number, Shape>();
/** Log lines (trace) waiting to go out with the next message. */
let pendingLogs: string[] = [];
/** Callbacks exported while encoding the current request (to attach an owner). */
let collecting: number[] | undefined;

/*
 * Releasing callbacks. A callback given to a host object (a timer's, a
 * socket's) can be forgotten once that object is finished — Node says so:
 * closed, cleared, or a one-shot timer that fired — and XS can no longer
 * name the object (its proxy was collected, so nobody can re-arm it).
 * Callbacks with no owner are released when Node's side forgets them.
 */
const ownedBy = new Map<number, Set<number>>();
const finishedHandles = new Set<number>();
const collectedHandles = new Set<number>();

function maybeRelease(h: number): void {
  if (!finishedHandles.has(h) || !collectedHandles.has(h)) return;
  finishedHandles.delete(h);
  collectedHandles.delete(h);
  const owned = ownedBy.get(h);
  ownedBy.delete(h);
  if (owned === undefined) return;
  for (const id of owned) {
    const entry = callbacks.get(id);
    if (entry === undefined) continue;
    entry.owners.delete(h);
    if (entry.owners.size === 0) {
      callbacks.delete(id);
      callbackIds.delete(entry.fn);
    }
  }
}

const finalizer = new FinalizationRegistry<number>((id) => {
  const ref = proxies.get(id);
  if (ref !== undefined && ref.deref() === undefined) {
    proxies.delete(id);
    droppedHandles.push([id, received.get(id) ?? 0]);
    received.delete(id);
    if (ownedBy.has(id)) {
      collectedHandles.add(id);
      maybeRelease(id);
    }
  }
});

function finished(ids: number[] | undefined): void {
  if (ids === undefined) return;
  for (const h of ids) {
    if (!ownedBy.has(h)) continue;
    finishedHandles.add(h);
    // Closed by XS (close()): nothing can call it back or arm it again (ECMA-419),
    // so its callbacks go now. Waiting for its proxy to be collected never ended
    // when a callback's closure held that proxy (a WiFi station's onChanged names
    // the station): the callback table kept both alive, one cycle per rejoin.
    const proxy = proxies.get(h)?.deref();
    if (proxy !== undefined && closedForGood.has(proxy)) collectedHandles.add(h);
    maybeRelease(h);
  }
}

const hooks: RefHooks = {
  exportRef(value: object): Tag {
    const h = handleOf.get(value);
    if (h !== undefined) return { $$: "h", id: h };
    if (typeof value === "function") {
      let id = callbackIds.get(value);
      if (id === undefined) {
        id = nextCallbackId++;
        callbackIds.set(value, id);
        callbacks.set(id, { fn: value, owner: undefined, owners: new Set() });
      }
      collecting?.push(id);
      return { $$: "f", id };
    }
    return { $$: "u" };
  },
  importRef(tag: Tag): unknown {
    if (tag.$$ === "f") return callbacks.get(tag.id as number)?.fn;
    const id = tag.id as number;
    if (tag.sh !== undefined) shapes.set(tag.s as number, tag.sh as Shape);
    received.set(id, (received.get(id) ?? 0) + 1);
    return proxyFor(id, shapes.get(tag.s as number));
  },
  isPlain(value: object): boolean {
    return !handleOf.has(value);
  },
};

/**
 * Host objects XS closed (`close()`) or cleared (`Timer.clear(t)`): events for
 * them that were already on their way — queued on the Node side, or later in the
 * batch being delivered — are not delivered, so no callback runs after close or
 * clear (the ECMA-419 I/O rule that no callback runs after close(); Moddable's Timer.clear).
 * `Timer.schedule(t, …)` arms a cleared timer again.
 */
const closedByXs = new WeakSet<object>();
/** Host objects XS closed with close(): unlike a cleared timer, never armed again. */
const closedForGood = new WeakSet<object>();

function noteClosing(name: string, self: unknown, args: unknown[]): void {
  const first = args[0];
  if (name === "close" && self !== null && typeof self === "object") {
    closedByXs.add(self);
    closedForGood.add(self);
  } else if (name === "clear" && first !== null && (typeof first === "object" || typeof first === "function")) closedByXs.add(first);
  else if (name === "schedule" && first !== null && (typeof first === "object" || typeof first === "function")) closedByXs.delete(first);
}

/** The handle id a proxy target carries (a symbol key: invisible to string-keyed gets). */
const HANDLE = Symbol("handle");
type Target = { [HANDLE]: number };

/** One handler (and one set of method functions) per shape, shared by all its proxies. */
const handlers = new Map<Shape, ProxyHandler<Target>>();

function handlerFor(shape: Shape): ProxyHandler<Target> {
  let handler = handlers.get(shape);
  if (handler !== undefined) return handler;
  const methods = new Map<string, Function>();
  for (const name of shape.m) {
    // Called as proxy.name(...): `this` names the host object.
    methods.set(name, function (this: unknown, ...args: unknown[]) {
      const h = this !== null && (typeof this === "object" || typeof this === "function") ? handleOf.get(this as object) : undefined;
      if (h === undefined) throw new TypeError(`${name} called on something that is not a host object`);
      noteClosing(name, this, args);
      return request({ op: "call", h, m: name, a: args });
    });
  }
  handler = {
    get(t, key) {
      if (typeof key === "symbol" || key === "then") return undefined;
      const m = methods.get(key);
      return m !== undefined ? m : request({ op: "get", h: t[HANDLE], k: key });
    },
    set(t, key, value) {
      if (typeof key === "symbol") return false;
      request({ op: "set", h: t[HANDLE], k: key, v: value });
      return true;
    },
    has(t, key) {
      if (typeof key === "symbol") return false;
      return methods.has(key) || request({ op: "has", h: t[HANDLE], k: key }) === true;
    },
    apply(t, _this, args) {
      return request({ op: "apply", h: t[HANDLE], a: args });
    },
    construct(t, args) {
      return request({ op: "new", h: t[HANDLE], a: args }, true) as object;
    },
  };
  handlers.set(shape, handler);
  return handler;
}

const PLAIN_SHAPE: Shape = { k: "o", m: [] };

function proxyFor(id: number, shape: Shape | undefined): object {
  const existing = proxies.get(id)?.deref();
  if (existing !== undefined) return existing;
  collectedHandles.delete(id); // seen again: its callbacks may be needed
  const s = shape ?? PLAIN_SHAPE;
  const target = (s.k === "f" ? function () {} : {}) as unknown as Target;
  target[HANDLE] = id;
  const proxy = new Proxy(target, handlerFor(s));
  proxies.set(id, new WeakRef(proxy));
  handleOf.set(proxy, id);
  finalizer.register(proxy, id);
  return proxy;
}

/**
 * Sends one request to Node and returns its answer, or throws its error.
 * Callbacks passed in it belong to the host object it returns (if any);
 * with `constructing`, that object is also their default `this`.
 */
function request(body: Record<string, unknown>, constructing = false): unknown {
  if (droppedHandles.length > 0) {
    body.drops = droppedHandles;
    droppedHandles = [];
  }
  if (pendingLogs.length > 0) {
    body.logs = pendingLogs;
    pendingLogs = [];
  }
  const outer = collecting;
  collecting = [];
  let reply: { ok?: unknown; err?: unknown; fin?: number[] };
  let passed: number[];
  try {
    const message = encodeMessage(body, hooks);
    passed = collecting;
    reply = decodeMessage(issueCommand(message), hooks) as typeof reply;
  } finally {
    collecting = outer;
  }
  finished(reply.fin);
  if ("err" in reply) throw reviveError(reply.err);
  const result = reply.ok;
  if (passed.length > 0) {
    // The owner: the host object made or returned (a socket, a timer), else the one
    // called (a station's scan callbacks belong to the station, and go when it closes).
    const made = result !== null && (typeof result === "object" || typeof result === "function") ? handleOf.get(result) : undefined;
    const h = made ?? (body.op === "call" ? (body.h as number) : undefined);
    if (h !== undefined) {
      let owned = ownedBy.get(h);
      if (owned === undefined) ownedBy.set(h, (owned = new Set()));
      const ref = constructing && made !== undefined ? new WeakRef(result as object) : undefined;
      for (const cb of passed) {
        const entry = callbacks.get(cb);
        if (entry === undefined) continue;
        entry.owners.add(h);
        owned.add(cb);
        if (ref !== undefined && entry.owner === undefined) entry.owner = ref;
      }
    }
  }
  return result;
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
    if (isClosed(self) || isClosed((args as unknown[])[0])) continue;
    try {
      entry.fn.apply(self, args as unknown[]);
    } catch (e) {
      pendingLogs.push(`uncaught exception in callback: ${describe(e)}`);
    }
  }
}

function isClosed(value: unknown): boolean {
  return value !== null && (typeof value === "object" || typeof value === "function") && closedByXs.has(value);
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
          // and from its owners' lists, which would otherwise keep the dead id
          for (const h of entry.owners) {
            const owned = ownedBy.get(h);
            owned?.delete(id);
            if (owned !== undefined && owned.size === 0) ownedBy.delete(h);
          }
        }
      }
      deliverEvents(message.ev as unknown[][]);
      finished(message.fin as number[] | undefined);
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
      return { ok: { proxies: proxies.size, callbacks: callbacks.size, owners: ownedBy.size } };
    default:
      return { err: new Error(`unknown bridge op ${message.op}`) };
  }
}

/** Installs the bridge's command handler and trace(); idempotent. */
export function installBridge(): void {
  if (g.__moteBridge === true) return;
  g.__moteBridge = true;
  // Always ours: xsnap's native trace() writes nowhere the host reads, and
  // Moddable's trace() is how device code logs (src/platform/log.ts).
  g.trace = trace;
  // Table sizes, for tests of the bridge itself.
  g.__bridgeStats = () => ({ proxies: proxies.size, callbacks: callbacks.size, owned: ownedBy.size, finished: finishedHandles.size, collected: collectedHandles.size, received: received.size });
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
