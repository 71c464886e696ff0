/**
 * Server-side resource table, pure: routing, Block2 slicing, observers and
 * the generated `/.well-known/core`. No I/O: the binding (server.ts) feeds it
 * requests that the endpoint delivered and sends what it returns.
 *
 * - Routing (RFC 7252 §5.8): unknown path 4.04, method without handler 4.05.
 * - Block2 (RFC 7959 §2.4): a representation bigger than the block size is
 *   answered one block at a time; the body can be a `BodySource` so a large
 *   representation is read per block, never held whole. Size2 goes with the
 *   first block (§4).
 * - Observe (RFC 7641 §4.1): a GET with Observe=0 on an observable resource
 *   adds (peer, token) to a bounded observer list (full: answered without
 *   Observe, i.e. not registered); Observe=1 removes it. Each notification
 *   carries a 24-bit sequence number increasing per resource (§4.4).
 * - Discovery (RFC 6690 §4): `/.well-known/core` lists the resources.
 */
import { MoteError } from "../errors.js";
import {
  ContentFormat,
  Method,
  Option,
  ResponseCode,
  blockSize,
  encodeBlock,
  encodeUint,
  optionBlock,
  optionStrings,
  optionUint,
  type CoapMessage,
  type CoapOption,
} from "./codec.js";
import type { Peer, ResponseSpec } from "./endpoint.js";
import { formatLinkFormat } from "./linkformat.js";
import { encodeUtf8 } from "../util/utf8.js";

/** A large body read block by block. */
export interface BodySource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

export interface ServerRequest {
  readonly method: number;
  readonly path: string;
  readonly query: string[];
  readonly payload: Uint8Array;
  readonly contentFormat: number | undefined;
  readonly accept: number | undefined;
  readonly peer: Peer;
  readonly message: CoapMessage;
}

export interface ServerResult {
  /** Default: 2.05 for GET/FETCH, 2.04 otherwise. */
  code?: number;
  payload?: Uint8Array | string | BodySource;
  contentFormat?: number;
  maxAge?: number;
  etag?: Uint8Array;
  options?: CoapOption[];
}

export type ResourceHandler = (request: ServerRequest) => ServerResult | Promise<ServerResult>;

export interface ResourceDefinition {
  /** "/sensors/temp" */
  path: string;
  /** Handlers per method name; GET is the usual one. */
  handlers: Partial<Record<"GET" | "POST" | "PUT" | "DELETE" | "FETCH" | "PATCH" | "iPATCH", ResourceHandler>>;
  observable?: boolean;
  /** Link attributes for /.well-known/core. */
  rt?: string[];
  if?: string[];
  ct?: number[];
  title?: string;
}

export interface Observer {
  readonly peer: Peer;
  readonly token: Uint8Array;
  readonly path: string;
  /** The registration request, replayed to the handler for each notification. */
  readonly request: ServerRequest;
}

export interface ResourceTableOptions {
  /** Resources at most (default 32). */
  maxResources?: number;
  /** Observers over all resources (default 16); more registrations get a plain response. */
  maxObservers?: number;
  /** Server's block size for Block2 (default 1024). */
  blockSize?: number;
  /** Block1 uploads being reassembled at once (default 4); beyond it 5.03. */
  maxUploads?: number;
  /** Largest Block1 body reassembled for a handler (default 16 384); beyond it 4.13 with Size1. */
  maxUploadBytes?: number;
}

interface Upload {
  chunks: Uint8Array[];
  length: number;
  szx: number;
}

const METHOD_NAMES: Readonly<Record<number, keyof ResourceDefinition["handlers"]>> = Object.freeze({
  [Method.GET]: "GET",
  [Method.POST]: "POST",
  [Method.PUT]: "PUT",
  [Method.DELETE]: "DELETE",
  [Method.FETCH]: "FETCH",
  [Method.PATCH]: "PATCH",
  [Method.iPATCH]: "iPATCH",
});

const WELL_KNOWN = "/.well-known/core";

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export type Route =
  | { kind: "response"; response: ResponseSpec }
  | { kind: "handler"; handler: ResourceHandler; request: ServerRequest; resource: ResourceDefinition };

export class ResourceTable {
  readonly #resources = new Map<string, ResourceDefinition>();
  readonly #observers: Observer[] = [];
  readonly #seq = new Map<string, number>();
  /** Block1 bodies in reassembly, by peer + path (RFC 7959 §2.5); insertion order = age. */
  readonly #uploads = new Map<string, Upload>();
  readonly #o: Required<ResourceTableOptions>;

  constructor(options: ResourceTableOptions = {}) {
    this.#o = {
      maxResources: options.maxResources ?? 32,
      maxObservers: options.maxObservers ?? 16,
      blockSize: options.blockSize ?? 1024,
      maxUploads: options.maxUploads ?? 4,
      maxUploadBytes: options.maxUploadBytes ?? 16_384,
    };
  }

  add(resource: ResourceDefinition): void {
    const path = normalise(resource.path);
    if (path === WELL_KNOWN) throw new MoteError("invalid-argument", "/.well-known/core is generated");
    if (!this.#resources.has(path) && this.#resources.size >= this.#o.maxResources) {
      throw new MoteError("limit", `more than ${this.#o.maxResources} resources`);
    }
    this.#resources.set(path, { ...resource, path });
  }

  remove(path: string): void {
    const p = normalise(path);
    this.#resources.delete(p);
    for (let i = this.#observers.length - 1; i >= 0; i--) if (this.#observers[i].path === p) this.#observers.splice(i, 1);
  }

  get observerCount(): number {
    return this.#observers.length;
  }

  observersOf(path: string): Observer[] {
    const p = normalise(path);
    return this.#observers.filter((o) => o.path === p);
  }

  /** Forgets an observer (RST or a lost CON notification, RFC 7641 §3.6/§4.5). */
  removeObserver(peer: Peer, token: Uint8Array): void {
    for (let i = this.#observers.length - 1; i >= 0; i--) {
      const o = this.#observers[i];
      if (o.peer.address === peer.address && o.peer.port === peer.port && sameBytes(o.token, token)) this.#observers.splice(i, 1);
    }
  }

  /** Decides what to do with a request: answer directly, or call a handler. */
  route(peer: Peer, m: CoapMessage): Route {
    const path = "/" + optionStrings(m, Option.UriPath).join("/");
    const request: ServerRequest = {
      method: m.code,
      path,
      query: optionStrings(m, Option.UriQuery),
      payload: m.payload,
      contentFormat: optionUint(m, Option.ContentFormat),
      accept: optionUint(m, Option.Accept),
      peer,
      message: m,
    };
    if (path === WELL_KNOWN) {
      if (m.code !== Method.GET) return { kind: "response", response: { code: ResponseCode.MethodNotAllowed } };
      const body = encodeUtf8(this.wellKnownCore(request.query));
      return {
        kind: "response",
        response: this.#shape(m, { code: ResponseCode.Content, payload: body, contentFormat: ContentFormat.LinkFormat }, undefined),
      };
    }
    const resource = this.#resources.get(path);
    if (resource === undefined) return { kind: "response", response: { code: ResponseCode.NotFound } };
    const name = METHOD_NAMES[m.code];
    const handler = name === undefined ? undefined : resource.handlers[name];
    if (handler === undefined) return { kind: "response", response: { code: ResponseCode.MethodNotAllowed } };
    const b1 = optionBlock(m, Option.Block1);
    if (b1 !== undefined) {
      const body = this.#block1(peer, path, m, b1);
      if (!(body instanceof Uint8Array)) return { kind: "response", response: body };
      return { kind: "handler", handler, request: { ...request, payload: body }, resource };
    }
    return { kind: "handler", handler, request, resource };
  }

  /**
   * RFC 7959 §2.5 atomic Block1: collects blocks per (peer, path); returns the
   * whole body when the last block arrives, or the response to send now.
   */
  #block1(peer: Peer, path: string, m: CoapMessage, b1: { num: number; more: boolean; szx: number }): Uint8Array | ResponseSpec {
    const key = `${peer.port}/${peer.address}${path}`;
    const size = blockSize(b1.szx);
    let up = this.#uploads.get(key);
    if (b1.num === 0) {
      this.#uploads.delete(key);
      if (!b1.more) return m.payload;
      if (this.#uploads.size >= this.#o.maxUploads) {
        // Full: the oldest unfinished upload is abandoned (its client gets 4.08 next).
        const oldest = this.#uploads.keys().next().value;
        if (oldest !== undefined) this.#uploads.delete(oldest);
      }
      up = { chunks: [], length: 0, szx: b1.szx };
      this.#uploads.set(key, up);
    }
    if (up === undefined || b1.num * size !== up.length || (b1.more && m.payload.length !== size)) {
      this.#uploads.delete(key);
      return { code: ResponseCode.RequestEntityIncomplete }; // §2.9.2
    }
    if (up.length + m.payload.length > this.#o.maxUploadBytes) {
      this.#uploads.delete(key);
      return { code: ResponseCode.RequestEntityTooLarge, options: [{ number: Option.Size1, value: encodeUint(this.#o.maxUploadBytes) }] }; // §2.9.3
    }
    up.chunks.push(m.payload);
    up.length += m.payload.length;
    if (b1.more) {
      return { code: ResponseCode.Continue, options: [{ number: Option.Block1, value: encodeBlock({ num: b1.num, more: true, szx: b1.szx }) }] };
    }
    this.#uploads.delete(key);
    const body = new Uint8Array(up.length);
    let o = 0;
    for (const c of up.chunks) {
      body.set(c, o);
      o += c.length;
    }
    return body;
  }

  /**
   * Turns a handler's result into the response for `request`: registers or
   * removes an observer, slices Block2, adds options.
   */
  complete(route: Extract<Route, { kind: "handler" }>, result: ServerResult): ResponseSpec {
    const m = route.request.message;
    let observeSeq: number | undefined;
    const obs = optionUint(m, Option.Observe);
    const ok = (result.code ?? ResponseCode.Content) >> 5 === 2;
    if (route.resource.observable && m.code === Method.GET && obs !== undefined) {
      if (obs === 0 && ok) {
        // RFC 7641 §4.1: register (or replace the registration of the same peer and token).
        this.removeObserver(route.request.peer, m.token);
        if (this.#observers.length < this.#o.maxObservers) {
          this.#observers.push({ peer: route.request.peer, token: m.token, path: route.resource.path, request: route.request });
          observeSeq = this.#nextSeq(route.resource.path);
        }
      } else if (obs === 1) this.removeObserver(route.request.peer, m.token);
    }
    const shaped = this.#shape(m, result, observeSeq);
    const b1 = optionBlock(m, Option.Block1);
    if (b1 !== undefined) shaped.options = [...(shaped.options ?? []), { number: Option.Block1, value: encodeBlock({ num: b1.num, more: false, szx: b1.szx }) }];
    return shaped;
  }

  /** The notification for one observer, given the handler's fresh result (RFC 7641 §4.2). */
  notification(observer: Observer, result: ServerResult): ResponseSpec {
    const seq = this.#nextSeq(observer.path);
    return this.#shape(observer.request.message, result, seq, true);
  }

  /** Lists the resources (RFC 6690 §4), filtered by `rt=`/`if=`/`href=` queries (§4.1, exact or prefix*). */
  wellKnownCore(query: string[] = []): string {
    const links = [...this.#resources.values()].map((r) => ({
      href: r.path,
      rt: r.rt,
      if: r.if,
      ct: r.ct,
      title: r.title,
      obs: r.observable === true,
    }));
    const filtered = links.filter((l) =>
      query.every((q) => {
        const eq = q.indexOf("=");
        if (eq < 0) return true;
        const name = q.slice(0, eq);
        const want = q.slice(eq + 1);
        const match = (v: string) => (want.endsWith("*") ? v.startsWith(want.slice(0, -1)) : v === want);
        if (name === "href") return match(l.href);
        if (name === "rt") return (l.rt ?? []).some(match);
        if (name === "if") return (l.if ?? []).some(match);
        return true;
      }),
    );
    return formatLinkFormat(filtered);
  }

  #nextSeq(path: string): number {
    const v = ((this.#seq.get(path) ?? 1) + 1) & 0xffffff; // §4.4: 24 bits, wraps
    this.#seq.set(path, v);
    return v;
  }

  #shape(m: CoapMessage, result: ServerResult, observeSeq: number | undefined, notification = false): ResponseSpec {
    const code = result.code ?? (m.code === Method.GET || m.code === Method.FETCH ? ResponseCode.Content : ResponseCode.Changed);
    const options: CoapOption[] = result.options ? result.options.slice() : [];
    if (observeSeq !== undefined) options.push({ number: Option.Observe, value: encodeUint(observeSeq) });
    if (result.contentFormat !== undefined) options.push({ number: Option.ContentFormat, value: encodeUint(result.contentFormat) });
    if (result.maxAge !== undefined) options.push({ number: Option.MaxAge, value: encodeUint(result.maxAge) });
    if (result.etag !== undefined) options.push({ number: Option.ETag, value: result.etag });
    const body = result.payload;
    const source: BodySource =
      body === undefined
        ? { size: 0, read: () => new Uint8Array(0) }
        : typeof body === "string"
          ? bytes(encodeUtf8(body))
          : body instanceof Uint8Array
            ? bytes(body)
            : body;
    // RFC 7959 §2.4: a client's Block2 sets the block it wants and may lower the size.
    const want = notification ? undefined : optionBlock(m, Option.Block2);
    let szx = 6;
    while (szx > 0 && blockSize(szx) > this.#o.blockSize) szx--;
    if (want !== undefined && want.szx < szx) szx = want.szx;
    const size = blockSize(szx);
    if (source.size <= size && (want === undefined || want.num === 0)) {
      return { code, options, payload: source.read(0, source.size) };
    }
    let num = want?.num ?? 0;
    if (want !== undefined && want.szx > szx) num = Math.floor((want.num * blockSize(want.szx)) / size);
    const offset = num * size;
    if (offset >= source.size && !(offset === 0 && source.size === 0)) {
      return { code: ResponseCode.BadOption, payload: encodeUtf8("block out of range") };
    }
    const chunk = source.read(offset, Math.min(size, source.size - offset));
    const more = offset + chunk.length < source.size;
    options.push({ number: Option.Block2, value: encodeBlock({ num, more, szx }) });
    if (num === 0) options.push({ number: Option.Size2, value: encodeUint(source.size) }); // §4
    return { code, options, payload: chunk };
  }
}

function bytes(data: Uint8Array): BodySource {
  return { size: data.length, read: (offset, length) => data.subarray(offset, offset + length) };
}

function normalise(path: string): string {
  const segs = path.split("/").filter((s) => s.length > 0);
  return "/" + segs.join("/");
}
