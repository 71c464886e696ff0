/**
 * Node side of the simulator bridge: serves the XS side's requests with the
 * Node twins of the host modules, and queues their callbacks as events for XS.
 *
 * Tables and their bounds (options of `HostBridge`):
 * - handles: Node object <-> id for every non-data value XS holds. XS tells
 *   us when it forgot a handle (FinalizationRegistry there), and we drop it.
 *   At `maxHandles` a request that would add one fails with code "bridge-full".
 * - open objects: what XS created with `new` or got back from a static call
 *   (a timer), with how to close it; `closeAll()` closes them. Bounded by
 *   `maxHandles` too.
 * - events: callbacks fired by twins wait here until XS is idle. At
 *   `maxQueuedEvents` further events are dropped and counted (`droppedEvents`),
 *   with one log line; the twins keep their data, so a later onReadable still
 *   finds it.
 */
import { decodeMessage, encodeMessage, type RefHooks, type Tag } from "./wire.js";

export interface HostBridgeOptions {
  /** Loads the Node twin of a host module specifier (undefined: none). */
  loadModule(specifier: string): Promise<Record<string, unknown> | undefined>;
  /** Sends one command to XS and returns its reply (serialized by xsnap). */
  send(message: Uint8Array): Promise<Uint8Array>;
  /** A line logged inside XS. */
  onLog(line: string): void;
  /** A call's promise settled inside XS. */
  onSettle(id: number, ok: boolean, value: unknown): void;
  /** Max host objects XS may hold at once. Default 10,000. */
  maxHandles?: number;
  /** Max events waiting for XS. Default 100,000. */
  maxQueuedEvents?: number;
  /** Max events per command. Default 512. */
  maxBatch?: number;
}

interface Shape {
  k: "f" | "o";
  m: string[];
}

type Request = { op: string; [k: string]: unknown };

const IGNORED_STATICS = new Set(["prototype", "length", "name", "caller", "arguments"]);

/** Names of methods of `value` (own and inherited, up to Object/Function.prototype). */
function shapeOf(value: object): Shape {
  const methods = new Set<string>();
  const stop = typeof value === "function" ? Function.prototype : Object.prototype;
  for (let o: object | null = value; o !== null && o !== stop && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (key === "constructor" || (typeof value === "function" && IGNORED_STATICS.has(key))) continue;
      const d = Object.getOwnPropertyDescriptor(o, key);
      if (d !== undefined && "value" in d && typeof d.value === "function" && !isConstructor(d.value)) methods.add(key);
    }
  }
  return { k: typeof value === "function" ? "f" : "o", m: [...methods] };
}

/** Objects that cross as handles even though they look like plain data (module exports with methods or getters). */
const byHandle = new WeakSet<object>();

/** A class (or old-style constructor) crosses as a handle of its own, so `new` works on it. */
function isConstructor(fn: Function): boolean {
  if (Function.prototype.toString.call(fn).startsWith("class")) return true;
  const proto = (fn as { prototype?: object }).prototype;
  return proto !== undefined && Object.getOwnPropertyNames(proto).length > 1;
}

function isPlainData(value: object): boolean {
  if (Array.isArray(value)) return true;
  if (byHandle.has(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export class BridgeError extends Error {
  readonly code: "bridge-full" | "bad-handle" | "closed";
  constructor(code: "bridge-full" | "bad-handle" | "closed", message: string) {
    super(`${code}: ${message}`);
    this.code = code;
    this.name = "MoteError";
  }
}

export class HostBridge {
  readonly #o: Required<Omit<HostBridgeOptions, "loadModule" | "send" | "onLog" | "onSettle">> & HostBridgeOptions;
  readonly #handles = new Map<number, object>();
  readonly #ids = new Map<object, number>();
  #nextHandle = 1;
  /** Host objects XS opened -> how to close them. */
  readonly #open = new Map<unknown, { close: () => void; oneShot: boolean; id: number | undefined }>();
  /** Handles of host objects that are finished (closed, cleared, fired once): XS may release their callbacks. */
  #finished: number[] = [];
  /** XS callback id -> the Node function standing for it. */
  readonly #callbacks = new Map<number, WeakRef<Function>>();
  readonly #callbackIds = new WeakMap<Function, number>();
  readonly #forgotten = new FinalizationRegistry<number>((id) => {
    const ref = this.#callbacks.get(id);
    if (ref !== undefined && ref.deref() === undefined) {
      this.#callbacks.delete(id);
      this.#droppedCallbacks.push(id);
    }
  });
  #droppedCallbacks: number[] = [];
  readonly #modules = new Map<string, Record<string, unknown>>();
  #events: [number, unknown, unknown[]][] = [];
  #pumping = false;
  #closed = false;
  droppedEvents = 0;
  /** Round trips XS made to Node (requests served). */
  requests = 0;

  readonly #hooks: RefHooks = {
    exportRef: (value: object): Tag => {
      const cb = this.#callbackIds.get(value as Function);
      if (cb !== undefined) return { $$: "f", id: cb };
      const id = this.#idFor(value);
      // Reference count: XS reports how many times it received an id when it
      // drops it, so a drop racing with a message already on its way is safe.
      this.#exported.set(id, (this.#exported.get(id) ?? 0) + 1);
      const s = this.#shapeIdOf(value);
      if (this.#shapesSent.has(s.id)) return { $$: "h", id, s: s.id };
      this.#shapesSent.add(s.id);
      return { $$: "h", id, s: s.id, sh: s.shape };
    },
    importRef: (tag: Tag): unknown => {
      if (tag.$$ === "h") {
        const obj = this.#handles.get(tag.id as number);
        if (obj === undefined) throw new BridgeError("bad-handle", `unknown handle ${String(tag.id)}`);
        return obj;
      }
      return this.#callbackFor(tag.id as number);
    },
    isPlain: isPlainData,
  };

  constructor(options: HostBridgeOptions) {
    this.#o = { maxHandles: 10_000, maxQueuedEvents: 100_000, maxBatch: 512, ...options };
  }

  get handleCount(): number {
    return this.#handles.size;
  }
  get openCount(): number {
    return this.#open.size;
  }
  get queuedEvents(): number {
    return this.#events.length;
  }

  /** Handle id -> times sent to XS and not yet dropped by it. */
  readonly #exported = new Map<number, number>();
  /** Shapes by content (few: one per class), and which ones XS has. */
  readonly #shapeIds = new Map<string, { id: number; shape: Shape }>();
  readonly #shapeOfObject = new WeakMap<object, { id: number; shape: Shape }>();
  readonly #shapesSent = new Set<number>();

  #shapeIdOf(value: object): { id: number; shape: Shape } {
    let s = this.#shapeOfObject.get(value);
    if (s !== undefined) return s;
    const shape = shapeOf(value);
    const key = JSON.stringify(shape);
    s = this.#shapeIds.get(key);
    if (s === undefined) {
      s = { id: this.#shapeIds.size + 1, shape };
      this.#shapeIds.set(key, s);
    }
    this.#shapeOfObject.set(value, s);
    return s;
  }

  #idFor(value: object): number {
    let id = this.#ids.get(value);
    if (id !== undefined) return id;
    if (this.#handles.size >= this.#o.maxHandles) {
      throw new BridgeError("bridge-full", `more than ${this.#o.maxHandles} host objects held by XS`);
    }
    id = this.#nextHandle++;
    this.#handles.set(id, value);
    this.#ids.set(value, id);
    return id;
  }

  #callbackFor(id: number): Function {
    const existing = this.#callbacks.get(id)?.deref();
    if (existing !== undefined) return existing;
    const bridge = this;
    const fn = function (this: unknown, ...args: unknown[]): void {
      bridge.#enqueue(id, this, args);
    };
    this.#callbacks.set(id, new WeakRef(fn));
    this.#callbackIds.set(fn, id);
    this.#forgotten.register(fn, id);
    return fn;
  }

  #enqueue(id: number, self: unknown, args: unknown[]): void {
    if (this.#closed) return;
    if (this.#events.length >= this.#o.maxQueuedEvents) {
      if (this.droppedEvents++ === 0) this.#o.onLog(`bridge: event queue full (${this.#o.maxQueuedEvents}), dropping events`);
      return;
    }
    // `this` crosses only when it is a host object (the socket); else XS uses
    // the object the callback was passed to at construction.
    // A fired one-shot timer (Moddable passes the timer as first argument) is done.
    if (args.length > 0 && this.#open.get(args[0])?.oneShot) this.#finish(args[0]);
    const thisArg = self !== null && typeof self === "object" && !isPlainData(self) ? self : undefined;
    this.#events.push([id, thisArg, args]);
    if (!this.#pumping) {
      this.#pumping = true;
      queueMicrotask(() => void this.#pump());
    }
  }

  async #pump(): Promise<void> {
    try {
      while (!this.#closed && (this.#events.length > 0 || this.#droppedCallbacks.length > 0 || this.#finished.length > 0)) {
        const batch = this.#events.splice(0, this.#o.maxBatch);
        const drops = this.#droppedCallbacks;
        this.#droppedCallbacks = [];
        // "finished" goes after the last queued event (see #takeFinished)
        const fin = this.#takeFinished();
        let message: Uint8Array;
        try {
          message = this.encode({ op: "events", ev: batch, drops, fin });
        } catch (e) {
          this.#o.onLog(`bridge: event not transferable: ${(e as Error).message}`);
          continue;
        }
        const reply = await this.#o.send(message);
        this.acceptReply(reply);
      }
    } catch (e) {
      if (!this.#closed) this.#o.onLog(`bridge: event delivery failed: ${(e as Error).message}`);
    } finally {
      this.#pumping = false;
    }
  }

  /** Encodes a command for XS (op + fields). */
  encode(body: Record<string, unknown>): Uint8Array {
    return new Uint8Array(encodeMessage(body, this.#hooks));
  }

  /** Decodes XS's reply to one of our commands, taking its logs and drops. */
  acceptReply(reply: Uint8Array): Record<string, unknown> {
    const msg = decodeMessage(toArrayBuffer(reply), this.#hooks) as Record<string, unknown>;
    this.#takeSideband(msg);
    return msg;
  }

  #takeSideband(msg: Record<string, unknown>): void {
    const logs = msg.logs as string[] | undefined;
    if (logs) for (const line of logs) this.#o.onLog(line);
    const drops = msg.drops as [number, number][] | undefined;
    if (drops) for (const [id, count] of drops) this.#dropHandle(id, count);
  }

  /**
   * The finished handles XS may be told of now: none while events are still
   * queued. XS releases a finished handle's callbacks once its proxy is
   * collected, so "finished" must not overtake the handle's own last event —
   * a one-shot timer that fired is finished when its event is queued, and a
   * reply to any request (or the first of several event batches) sent before
   * that event would have XS drop the callback the event then calls: the
   * timer never fires in XS. Everything left goes with the last batch.
   */
  #takeFinished(): number[] {
    if (this.#events.length > 0 || this.#finished.length === 0) return [];
    const fin = this.#finished;
    this.#finished = [];
    return fin;
  }

  /** `value` is finished: forget it as open, and tell XS (with the next message). */
  #finish(value: unknown): void {
    const entry = this.#open.get(value);
    this.#open.delete(value);
    const id = entry?.id ?? (value !== null && typeof value === "object" ? this.#ids.get(value) : undefined);
    if (id !== undefined) this.#finished.push(id);
  }

  #dropHandle(id: number, count: number): void {
    const left = (this.#exported.get(id) ?? 0) - count;
    if (left > 0) {
      this.#exported.set(id, left);
      return;
    }
    this.#exported.delete(id);
    const obj = this.#handles.get(id);
    if (obj === undefined) return;
    this.#handles.delete(id);
    this.#ids.delete(obj);

  }

  /** Serves one request from XS (xsnap's handleCommand). */
  async handle(bytes: Uint8Array): Promise<Uint8Array> {
    this.requests++;
    let reply: Record<string, unknown>;
    try {
      const req = decodeMessage(toArrayBuffer(bytes), this.#hooks) as Request;
      this.#takeSideband(req);
      reply = { ok: await this.#serve(req) };
    } catch (e) {
      reply = { err: e instanceof Error ? e : new Error(String(e)) };
    }
    const fin = this.#takeFinished();
    if (fin.length > 0) reply.fin = fin;
    try {
      return this.encode(reply);
    } catch (e) {
      return this.encode({ err: e });
    }
  }

  async #serve(req: Request): Promise<unknown> {
    switch (req.op) {
      case "import":
        return this.#import(req.spec as string);
      case "get":
        return Reflect.get(this.#target(req.h), req.k as string);
      case "set":
        Reflect.set(this.#target(req.h), req.k as string, req.v);
        return undefined;
      case "has":
        return (req.k as string) in this.#target(req.h);
      case "call": {
        const target = this.#target(req.h);
        const name = req.m as string;
        const args = req.a as unknown[];
        const method = (target as Record<string, unknown>)[name];
        if (typeof method !== "function") throw new TypeError(`${name} is not a function`);
        if (name === "close") this.#finish(target);
        if (name === "clear") this.#finish(args[0]);
        const result = method.apply(target, args);
        this.#track(result, target, name, args);
        return result;
      }
      case "apply": {
        const target = this.#target(req.h);
        if (typeof target !== "function") throw new TypeError("not a function");
        const args = req.a as unknown[];
        const result = target(...args);
        this.#track(result, undefined, target.name, args);
        return result;
      }
      case "new": {
        const target = this.#target(req.h);
        if (typeof target !== "function") throw new TypeError("not a constructor");
        const made = Reflect.construct(target, req.a as unknown[]) as object;
        this.#track(made, target, "new", []);
        return made;
      }
      case "settle":
        this.#o.onSettle(req.id as number, req.ok === true, req.v);
        return undefined;
      case "log":
        return undefined;
      default:
        throw new TypeError(`unknown bridge op ${req.op}`);
    }
  }

  /**
   * Remembers a host object XS opened, to close it at engine close: objects
   * with close() (sockets, listeners) or clear() (Moddable timers), and what a
   * set/repeat returned when the module object has a clear() (a timer id may
   * be a number).
   */
  #track(made: unknown, from: object | undefined, how: string, args: unknown[]): void {
    if (made === undefined || made === null || this.#open.has(made)) return;
    let close: (() => void) | undefined;
    const obj = made as { close?: () => void; clear?: () => void };
    const clear = (from as { clear?: (h: unknown) => void } | undefined)?.clear;
    const isObject = (typeof made === "object" || typeof made === "function") && !isPlainData(made as object);
    if (isObject && typeof obj.close === "function") close = () => obj.close!();
    else if (isObject && typeof obj.clear === "function") close = () => obj.clear!();
    else if (typeof clear === "function" && (how === "set" || how === "repeat")) close = () => clear.call(from, made);
    if (close === undefined) return;
    if (this.#open.size >= this.#o.maxHandles) {
      try {
        close();
      } catch {
        // closing what we refuse is best effort
      }
      throw new BridgeError("bridge-full", `more than ${this.#o.maxHandles} open host objects`);
    }
    // Moddable Timer.set(callback, interval[, repeat]) without repeat fires once.
    const oneShot = how === "set" && !args[2];
    const id = isObject ? this.#idFor(made as object) : undefined;
    this.#open.set(made, { close, oneShot, id });
  }

  #target(h: unknown): object {
    const obj = typeof h === "number" ? this.#handles.get(h) : undefined;
    if (obj === undefined) throw new BridgeError("bad-handle", `unknown handle ${String(h)}`);
    return obj;
  }

  async #import(spec: string): Promise<Record<string, unknown>> {
    let ns = this.#modules.get(spec);
    if (ns === undefined) {
      ns = await this.#o.loadModule(spec);
      if (ns === undefined) throw new Error(`no Node twin for host module "${spec}"`);
      this.#modules.set(spec, ns);
    }
    // A namespace is exotic: copy its exports into a plain object to send.
    // An export that is an object with methods or getters (Moddable's Timer,
    // Time) crosses as a handle, so calls and getters reach the live object.
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(ns)) {
      const v = ns[key];
      if (v !== null && typeof v === "object" && !Array.isArray(v) && hasBehaviour(v)) byHandle.add(v);
      out[key] = v;
    }
    return out;
  }

  /** Closes every host object XS opened and stops delivering events. */
  closeAll(): string[] {
    this.#closed = true;
    this.#events = [];
    const failures: string[] = [];
    for (const [, entry] of this.#open) {
      try {
        entry.close();
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    this.#open.clear();
    this.#handles.clear();
    this.#ids.clear();
    this.#exported.clear();
    return failures;
  }
}

function hasBehaviour(value: object): boolean {
  for (const d of Object.values(Object.getOwnPropertyDescriptors(value))) {
    if (d.get !== undefined || d.set !== undefined || typeof d.value === "function") return true;
  }
  return false;
}

function toArrayBuffer(u8: Uint8Array): ArrayBuffer {
  return u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength ? (u8.buffer as ArrayBuffer) : (u8.slice().buffer as ArrayBuffer);
}
