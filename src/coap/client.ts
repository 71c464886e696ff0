/**
 * CoAP client API over one UDP socket: promises and callbacks on top of the
 * sans-I/O `CoapEndpoint` (see endpoint.ts for the protocol rules).
 *
 * Faults of the network or the peer reject with `CoapRequestError` (a
 * literal `code`: "timeout", "reset", "dns", ...); misuse throws `MoteError`.
 * A response with a 4.xx/5.xx code is not an error: it resolves, with `ok`
 * false, because the caller may want its payload.
 */
import { MoteError, nameError, withCode } from "../errors.js";
import { decodeUtf8, encodeUtf8 } from "../util/utf8.js";
import {
  Method,
  Option,
  codeClass,
  codeText,
  findOption,
  optionUint,
  uintOption,
  type CoapMessage,
  type CoapOption,
  type MethodName,
} from "./codec.js";
import { EndpointDriver, type CoapHost } from "./driver.js";
import type { EndpointAction, EndpointOptions, ExchangeFailure, Peer, RequestSpec, UploadSource } from "./endpoint.js";
import { parseLinkFormat, type CoreLink } from "./linkformat.js";
import { BLOCK, CANCEL, DELETE, FAILED, GET, INCOMING, NOTIFICATION, OBSERVER_GONE, PING, PONG, POST, PUT, REQUEST, RESPOND, RESPONSE } from "./names.js";
import { parseCoapUri, uriOptions } from "./uri.js";

/** "unreachable": the datagram could not leave, or an ICMP port/host unreachable came back. */
export type CoapRequestErrorCode = ExchangeFailure | "dns" | "closed" | "unreachable";

/** A request that did not get a usable response (network or peer fault). */
export class CoapRequestError extends Error {
  static {
    nameError(this, "CoapRequestError");
  }
  readonly code: CoapRequestErrorCode;
  constructor(code: CoapRequestErrorCode, message?: string) {
    super(withCode(code, message));
    this.code = code;
  }
}

export interface CoapResponse {
  /** class*32 + detail; `codeText` is "2.05". */
  readonly code: number;
  readonly codeText: string;
  /** 2.xx */
  readonly ok: boolean;
  readonly payload: Uint8Array;
  readonly contentFormat: number | undefined;
  readonly options: CoapOption[];
  /** Observe sequence number, for notifications. */
  readonly observe: number | undefined;
  /** The payload as UTF-8 text (U+FFFD for invalid bytes). */
  text(): string;
}

export interface RequestOptions {
  method?: MethodName;
  payload?: Uint8Array | string | UploadSource;
  contentFormat?: number;
  accept?: number;
  /** NON instead of CON (libcoap -N). */
  confirmable?: boolean;
  /** Block size 16..1024 for Block1/Block2 (libcoap -b). */
  blockSize?: number;
  /** Give up after this long (ms); default: the message layer's own limits. */
  timeoutMs?: number;
  /** Token bytes (libcoap -T). */
  token?: Uint8Array;
  /** More options, e.g. ETag or If-Match. */
  options?: CoapOption[];
  /** download(): start at this byte offset, a multiple of `blockSize` (default 1024), to resume. */
  offset?: number;
}

export interface ClientOptions extends Omit<EndpointOptions, "random"> {
  /** Platform access; default: src/platform (see host.ts). */
  host?: CoapHost;
  /** Local UDP port (default: any). */
  port?: number;
}

export interface ObserveHandle {
  /** Deregisters (GET with Observe=1) and resolves when done. */
  cancel(): Promise<void>;
  /** Settles when the observation ends: resolves with the server's final response, or rejects. */
  readonly ended: Promise<CoapResponse | undefined>;
}

interface Pending {
  resolve(r: CoapResponse | undefined): void;
  reject(e: Error): void;
  onNotify?: (r: CoapResponse) => void;
  onBlock?: (data: Uint8Array, offset: number, more: boolean) => void;
  deadline: number | undefined;
  /** Where the request went, once its address is known. */
  peer?: Peer;
}

/** A response as the application sees it: `text()` is on the prototype, not a closure made per response. */
class Response implements CoapResponse {
  readonly code: number;
  readonly codeText: string;
  readonly ok: boolean;
  readonly payload: Uint8Array;
  readonly contentFormat: number | undefined;
  readonly options: CoapOption[];
  readonly observe: number | undefined;

  constructor(m: CoapMessage) {
    this.code = m.code;
    this.codeText = codeText(m.code);
    this.ok = codeClass(m.code) === 2;
    this.payload = m.payload;
    this.contentFormat = optionUint(m, Option.ContentFormat);
    this.options = m.options;
    this.observe = optionUint(m, Option.Observe);
  }

  text(): string {
    const t = decodeUtf8(this.payload);
    return typeof t === "string" ? t : decodeLenient(this.payload);
  }
}

/** A request's payload as bytes or an upload source. */
function requestPayload(p: Uint8Array | string | UploadSource | undefined): Uint8Array | UploadSource | undefined {
  if (p === undefined || p instanceof Uint8Array) return p;
  return typeof p === "string" ? encodeUtf8(p) : p;
}

function decodeLenient(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i] < 0x80 ? String.fromCharCode(b[i]) : "\ufffd";
  return s;
}

export class CoapClient {
  readonly #host: CoapHost;
  readonly #driver: EndpointDriver;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  constructor(options: ClientOptions & { host: CoapHost }) {
    const { host, ...rest } = options;
    this.#host = host;
    this.#driver = new EndpointDriver(host, rest, (a) => this.#onAction(a), {
      deadline: () => this.#nearestDeadline(),
      tick: (now) => this.#expire(now),
      sendFailed: (peer, e) => this.#unreachable(peer, (e as { message?: unknown })?.message),
      socketError: (code) => {
        // An ICMP port unreachable (ECONNREFUSED, RFC 1122 §4.1.3.3) or host unreachable
        // ends the wait at once, as libcoap does, instead of ~93 s of retransmissions.
        if (code === "refused" || code === "unreachable") this.#unreachable(undefined, code === "refused" ? "nothing listens on" : "no route to");
      },
    });
  }

  get port(): number {
    return this.#driver.port;
  }

  /** Any method; `url` is `coap://host[:port]/path?query`. */
  request(url: string, opts: RequestOptions = {}): Promise<CoapResponse> {
    return this.#start(url, opts, {}) as Promise<CoapResponse>;
  }

  get(url: string, opts: RequestOptions = {}): Promise<CoapResponse> {
    return this.request(url, { ...opts, method: GET });
  }
  post(url: string, payload: Uint8Array | string | UploadSource, opts: RequestOptions = {}): Promise<CoapResponse> {
    return this.request(url, { ...opts, method: POST, payload });
  }
  put(url: string, payload: Uint8Array | string | UploadSource, opts: RequestOptions = {}): Promise<CoapResponse> {
    return this.request(url, { ...opts, method: PUT, payload });
  }
  delete(url: string, opts: RequestOptions = {}): Promise<CoapResponse> {
    return this.request(url, { ...opts, method: DELETE });
  }

  /**
   * Streams a Block2 body: `onBlock` gets each block with its offset, in order,
   * and only one block is held at a time. Resolves with the last response.
   */
  download(url: string, onBlock: (data: Uint8Array, offset: number, more: boolean) => void, opts: RequestOptions = {}): Promise<CoapResponse> {
    return this.#start(url, { method: GET, ...opts }, { onBlock }) as Promise<CoapResponse>;
  }

  /** Streams a Block1 body from `source` (PUT by default). */
  upload(url: string, source: UploadSource | Uint8Array, opts: RequestOptions = {}): Promise<CoapResponse> {
    return this.request(url, { method: PUT, ...opts, payload: source });
  }

  /** Registers as an observer (RFC 7641); `onNotify` gets each fresh notification, the first response included. */
  observe(url: string, onNotify: (r: CoapResponse) => void, opts: RequestOptions = {}): ObserveHandle {
    let id = 0;
    const ended = this.#start(url, { method: GET, ...opts }, { onNotify }, (n) => (id = n));
    ended.catch(() => undefined); // the caller may only ever call cancel()
    return {
      ended,
      cancel: async () => {
        if (!this.#pending.has(id) || this.#driver.closed) return;
        this.#driver.feed({ type: CANCEL, id });
        await ended.catch(() => undefined);
      },
    };
  }

  /** GET /.well-known/core (RFC 6690 §4) from `coap://host[:port]`. */
  async discover(url: string, opts: RequestOptions = {}): Promise<CoreLink[]> {
    const base = url.replace(/\/+$/, "");
    const r = await this.get(`${base}/.well-known/core`, opts);
    if (!r.ok) throw new CoapRequestError("bad-response", `discovery answered ${r.codeText}`);
    return parseLinkFormat(r.text());
  }

  /** CoAP ping (§4.3): resolves when the peer answers the empty CON. */
  ping(url: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    const u = parseCoapUri(url);
    return new Promise<void>((resolve, reject) => {
      this.#resolve(u.host, u.isIp, (address, err) => {
        if (address === undefined) return reject(new CoapRequestError("dns", `cannot resolve ${u.host}`));
        const id = this.#nextId++;
        this.#pending.set(id, { resolve: () => resolve(), reject, deadline: this.#deadline(opts.timeoutMs) });
        this.#feed({ type: PING, id, peer: { address, port: u.port } }, id);
      });
    });
  }

  /** Fails everything in progress with "closed" and releases the socket. */
  close(): void {
    if (this.#driver.closed) return;
    this.#driver.close();
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(new CoapRequestError("closed"));
    }
  }

  // -------------------------------------------------------------------------

  #deadline(timeoutMs: number | undefined): number | undefined {
    if (timeoutMs === undefined) return undefined;
    if (!(timeoutMs >= 0)) throw new MoteError("invalid-argument", `timeoutMs ${timeoutMs}`);
    return this.#host.now() + timeoutMs;
  }

  #resolve(host: string, isIp: boolean, cb: (address: string | undefined, err?: string) => void): void {
    if (isIp) cb(host);
    else this.#host.resolveHost(host, (address, error) => cb(address, error));
  }

  #start(
    url: string,
    opts: RequestOptions,
    hooks: { onNotify?: (r: CoapResponse) => void; onBlock?: (d: Uint8Array, o: number, m: boolean) => void },
    onId?: (id: number) => void,
  ): Promise<CoapResponse | undefined> {
    if (this.#driver.closed) return Promise.reject(new MoteError("closed", "client is closed"));
    const u = parseCoapUri(url);
    const method = Method[opts.method ?? GET];
    if (method === undefined) throw new MoteError("invalid-argument", `method ${opts.method}`);
    if (opts.token !== undefined && opts.token.length > 8) throw new MoteError("invalid-argument", "token longer than 8 bytes");
    if (opts.blockSize !== undefined && ![16, 32, 64, 128, 256, 512, 1024].includes(opts.blockSize)) {
      throw new MoteError("invalid-argument", `block size ${opts.blockSize}`);
    }
    if (opts.offset !== undefined) {
      const size = opts.blockSize ?? 1024;
      if (!(Number.isInteger(opts.offset) && opts.offset >= 0 && opts.offset % size === 0 && opts.offset / size <= 0xfffff)) {
        throw new MoteError("invalid-argument", `offset ${opts.offset} is not a multiple of the block size ${size}`);
      }
      if (hooks.onBlock === undefined && opts.offset > 0) throw new MoteError("invalid-argument", "offset is for download()");
    }
    const options = uriOptions(u);
    if (opts.contentFormat !== undefined) options.push(uintOption(Option.ContentFormat, opts.contentFormat));
    if (opts.accept !== undefined) options.push(uintOption(Option.Accept, opts.accept));
    if (opts.options) options.push(...opts.options);
    const payload = requestPayload(opts.payload);
    const spec: RequestSpec = {
      method,
      options,
      payload,
      confirmable: opts.confirmable,
      observe: hooks.onNotify !== undefined,
      stream: hooks.onBlock !== undefined,
      blockSize: opts.blockSize,
      token: opts.token,
      offset: opts.offset,
    };
    const id = this.#nextId++;
    onId?.(id);
    const deadline = this.#deadline(opts.timeoutMs);
    let resolve!: (r: CoapResponse | undefined) => void;
    let reject!: (e: Error) => void;
    const done = new Promise<CoapResponse | undefined>((yes, no) => ((resolve = yes), (reject = no)));
    this.#pending.set(id, { resolve, reject, onNotify: hooks.onNotify, onBlock: hooks.onBlock, deadline });
    const send = (address: string | undefined, err?: string): void => {
      if (!this.#pending.has(id)) return; // timed out or closed meanwhile
      if (address === undefined) {
        this.#pending.delete(id);
        reject(new CoapRequestError("dns", `cannot resolve ${u.host}${err !== undefined && err !== "dns" ? ` (${err})` : ""}`));
        return;
      }
      const peer: Peer = { address, port: u.port };
      this.#pending.get(id)!.peer = peer;
      this.#feed({ type: REQUEST, id, peer, request: spec }, id);
    };
    // Sent from a job of its own (one promise reaction later), not from inside this
    // call: whatever called get() (a command, its dispatcher, the MQTT delivery) and
    // this frame are then off the stack while the request goes down to the socket —
    // the path that set Moddable's stack peak (83 slots fewer; docs/moddable.md).
    const go = (): void => {
      try {
        if (u.isIp) send(u.host);
        else this.#host.resolveHost(u.host, send);
        this.#driver.rearm();
      } catch (e) {
        this.#pending.delete(id);
        reject(e instanceof Error ? e : new MoteError("internal", String(e)));
      }
    };
    void Promise.resolve().then(go);
    return done;
  }

  #feed(ev: Parameters<EndpointDriver["feed"]>[0], id: number): void {
    if (this.#driver.closed) {
      const p = this.#pending.get(id);
      this.#pending.delete(id);
      p?.reject(new CoapRequestError("closed"));
      return;
    }
    this.#driver.feed(ev);
  }

  #onAction(a: EndpointAction): void {
    switch (a.type) {
      case RESPONSE: {
        const p = this.#pending.get(a.id);
        this.#pending.delete(a.id);
        p?.resolve(new Response(a.response));
        break;
      }
      case PONG: {
        const p = this.#pending.get(a.id);
        this.#pending.delete(a.id);
        p?.resolve(undefined);
        break;
      }
      case FAILED:
        this.#failed(a.id, a.code);
        break;
      case NOTIFICATION:
        this.#pending.get(a.id)?.onNotify?.(new Response(a.response));
        break;
      case BLOCK:
        this.#pending.get(a.id)?.onBlock?.(a.data, a.offset, a.more);
        break;
      case INCOMING:
        // A client socket is not a server: refuse politely (§5.8: 4.05 would name a resource).
        this.#driver.feed({ type: RESPOND, exchange: a.exchange, response: { code: 4 << 5 | 4 } });
        break;
      case OBSERVER_GONE:
        break;
    }
  }

  #failed(id: number, code: ExchangeFailure): void {
    const p = this.#pending.get(id);
    this.#pending.delete(id);
    if (code === "cancelled" && p?.onNotify !== undefined) p.resolve(undefined); // an observation the caller ended
    else p?.reject(new CoapRequestError(code));
  }

  #nearestDeadline(): number | undefined {
    // forEach with a callback made once: a for…of over the Map made an iterator and a result per entry
    // at every datagram (garbage on XS)
    this.#nearest = undefined;
    this.#pending.forEach(this.#visitDeadline);
    return this.#nearest;
  }

  /** #nearestDeadline()'s running minimum, and its callback. */
  #nearest: number | undefined;
  readonly #visitDeadline = (p: Pending): void => {
    const d = p.deadline;
    if (d !== undefined && (this.#nearest === undefined || d < this.#nearest)) this.#nearest = d;
  };

  /**
   * Fails at once what waits on `peer` (every request sent, when the socket does
   * not say which peer: a host socket reports ICMP errors only while connected
   * to the one peer it sends to).
   */
  #unreachable(peer: Peer | undefined, why: unknown): void {
    for (const [id, p] of this.#pending) {
      if (p.peer === undefined || (peer !== undefined && (p.peer.address !== peer.address || p.peer.port !== peer.port))) continue;
      this.#pending.delete(id);
      if (!this.#driver.closed) this.#driver.feed({ type: CANCEL, id, passive: true });
      const where = `${p.peer.address.includes(":") ? `[${p.peer.address}]` : p.peer.address}:${p.peer.port}`;
      const text = typeof why === "string" ? why.replace(/^unreachable: /, "") : "unreachable";
      // peer undefined: an ICMP error ("nothing listens on" / "no route to" + where)
      p.reject(new CoapRequestError("unreachable", peer === undefined ? `${text} udp ${where} (ICMP)` : `${where}: ${text}`));
    }
  }

  #expire(now: number): void {
    for (const [id, p] of this.#pending) {
      if (p.deadline === undefined || p.deadline > now) continue;
      this.#pending.delete(id);
      this.#driver.feed({ type: CANCEL, id, passive: true });
      p.reject(new CoapRequestError("timeout", "request timeout"));
    }
  }
}

export { findOption };
