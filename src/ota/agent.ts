/**
 * The device-side OTA agent: a thin binding that runs the `Updater` core
 * (updater.ts) against a fetcher (HTTP now; `coap://` plugs in through the
 * same `Fetcher` seam) and the platform's OTA target (flash slots).
 *
 * Triggered by the MQTT `cmd/ota` command: the payload is either
 *   - the signed descriptor itself (JSON, as `mote ota pack` writes it),
 *   - `{"descriptor": {...} | "<json>", "url"?: "http://..."}` (url overrides the descriptor's),
 *   - `{"url": "http://.../app-2.0.0.json"}` or the bare URL text: where to GET the descriptor.
 * Progress and outcome go to `onEvent` in the shape the device program
 * publishes on `<prefix>/<id>/reply/ota` (src/app/ports.ts OtaPort):
 *   {type:"progress", detail:"download 4096/65536"} ... {type:"done", reboot:true} | {type:"error", code:"hash-mismatch", detail:"..."}
 *
 * Every erase is followed by a `defer` (a 0 ms timer on the device) before
 * the next one, so one sector is erased per turn and the watchdog and the
 * network keep running during a long erase.
 */
import { MoteError } from "../errors.js";
import type { ContentRange } from "../http/response.js";
import { decodeUtf8, encodeUtf8 } from "../util/utf8.js";
import { descriptorDigest, type OtaCrypto, type UpdateKind } from "./descriptor.js";
import { OtaError } from "./errors.js";
import { Updater, type SlotGeometry, type UpdaterAction, type UpdaterEvent, type UpdaterOptions } from "./updater.js";

/** Where updates are written: the platform facade (src/platform/ota.ts) or a simulator twin. */
export interface OtaTarget {
  /** Geometry of the place an update of `kind` goes (inactive firmware slot, or mod area); undefined if unsupported. */
  geometry(kind: UpdateKind): SlotGeometry | undefined;
  erase(kind: UpdateKind, sector: number): void;
  write(kind: UpdateKind, offset: number, data: Uint8Array): void;
  /** Makes the verified image the one to boot (firmware, pending verification) or to load (mod). */
  activate(kind: UpdateKind, image: { size: number; sha256: Uint8Array; version: string; minVersion: string }): void;
  /** Anti-rollback floor recorded on the device, if any. */
  floorVersion(): string | undefined;
  /** Version of the installed mod, if any. */
  modVersion(): string | undefined;
}

/** Why a fetch failed: the Updater's `fetch-failed` codes, passed through as they are. */
export type FetchFailure = Extract<UpdaterEvent, { type: "fetch-failed" }>["code"];

export interface FetchSink {
  response(status: number, contentLength: number | undefined, contentRange: ContentRange | undefined): void;
  body(data: Uint8Array): void;
  /** Body bytes the sink takes now; the fetcher never hands over more. */
  room(): number;
  end(): void;
  fail(code: FetchFailure, message?: string): void;
}

/**
 * One transfer protocol (`http`, `coap`): GET `url` from byte `from`.
 * `size`, when known, is the image size the descriptor announces (a protocol
 * without Content-Range, like CoAP Block2, uses it to describe a resumed body).
 */
export type Fetcher = (url: string, from: number, sink: FetchSink, size?: number) => { close(): void };

export interface OtaAgentEvent {
  readonly type: "progress" | "done" | "error";
  readonly detail: string;
  readonly reboot?: boolean;
  /** For errors: the OtaError code. */
  readonly code?: string;
}

export interface OtaAgentOptions {
  readonly publicKey: Uint8Array;
  readonly crypto: OtaCrypto;
  readonly board: string;
  readonly runningVersion: string;
  readonly target: OtaTarget;
  /** By URL scheme: "http" (required for http:// URLs), "coap" (seam for the CoAP Block2 fetcher). */
  readonly fetchers: Readonly<Record<string, Fetcher>>;
  readonly now: () => number;
  readonly alarm: (onAlarm: () => void) => { arm(deadline: number | undefined): void; close(): void };
  /** Runs `callback` on a later turn (0 ms timer). */
  readonly defer: (callback: () => void) => void;
  /** Passed to the Updater: chunkSize, headerBytes, maxAttempts, retry delays, onRangeIgnored, ... */
  readonly updater?: Partial<Omit<UpdaterOptions, "publicKey" | "crypto" | "policy" | "targets">>;
  readonly allowDowngrade?: boolean;
  /** Largest descriptor accepted (inline or fetched). Default 4096. */
  readonly maxDescriptorBytes?: number;
}

type Request = { descriptor: string | Uint8Array; url?: string } | { descriptorUrl: string };

/** Decodes a `cmd/ota` payload. Throws OtaError("bad-descriptor") for anything else. */
export function parseOtaCommand(payload: Uint8Array, maxBytes = 4096): Request {
  if (payload.length > maxBytes + 512) throw new OtaError("bad-descriptor", "command too large");
  const text = decodeUtf8(payload);
  if (typeof text !== "string") throw new OtaError("bad-descriptor", "command is not UTF-8");
  const trimmed = text.trim();
  if (/^(https?|coaps?):\/\//.test(trimmed)) return { descriptorUrl: trimmed };
  let o: unknown;
  try {
    o = JSON.parse(trimmed);
  } catch {
    throw new OtaError("bad-descriptor", "command is neither JSON nor a URL");
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new OtaError("bad-descriptor", "command is not an object");
  const c = o as Record<string, unknown>;
  if ("format" in c) return { descriptor: trimmed };
  const url = typeof c.url === "string" ? c.url : undefined;
  if (c.descriptor !== undefined) {
    const d = typeof c.descriptor === "string" ? c.descriptor : JSON.stringify(c.descriptor);
    return url !== undefined ? { descriptor: d, url } : { descriptor: d };
  }
  if (url !== undefined) return { descriptorUrl: url };
  throw new OtaError("bad-descriptor", "command has neither descriptor nor url");
}

function schemeOf(url: string): string {
  const i = url.indexOf("://");
  return i > 0 ? url.slice(0, i) : "";
}

export class OtaAgent {
  readonly #o: OtaAgentOptions;
  #updater: Updater | undefined;
  #exchange: { close(): void } | undefined;
  #alarm: { arm(deadline: number | undefined): void; close(): void } | undefined;
  #onEvent: ((event: OtaAgentEvent) => void) | undefined;
  #generation = 0;
  #publicKey: Uint8Array;

  constructor(options: OtaAgentOptions) {
    this.#o = options;
    this.#publicKey = options.publicKey;
  }

  /**
   * The key updates must be signed with from now on (a signed rotation,
   * docs/security.md). An update already running keeps the key it was checked with.
   */
  setPublicKey(publicKey: Uint8Array): void {
    this.#publicKey = publicKey.slice();
  }

  get busy(): boolean {
    return this.#onEvent !== undefined;
  }

  /** The running updater's core, for measurements (bench) and status. */
  get updater(): Updater | undefined {
    return this.#updater;
  }

  start(payload: Uint8Array, onEvent: (event: OtaAgentEvent) => void): void {
    if (this.busy) {
      onEvent({ type: "error", code: "busy", detail: "busy: an update is already running" });
      return;
    }
    this.#onEvent = onEvent;
    const generation = ++this.#generation;
    let request: Request;
    try {
      request = parseOtaCommand(payload, this.#o.maxDescriptorBytes);
    } catch (e) {
      if (e instanceof OtaError) return this.#finish({ type: "error", code: e.code, detail: e.message });
      throw e;
    }
    if ("descriptorUrl" in request) this.#fetchDescriptor(request.descriptorUrl, generation);
    else this.#run(request.descriptor, request.url);
  }

  cancel(): void {
    if (this.#updater !== undefined) this.#feed({ type: "cancel" });
  }

  #finish(event: OtaAgentEvent): void {
    const onEvent = this.#onEvent;
    this.#exchange?.close();
    this.#exchange = undefined;
    this.#alarm?.close();
    this.#alarm = undefined;
    this.#onEvent = undefined;
    onEvent?.(event);
  }

  #fetchDescriptor(url: string, generation: number): void {
    const fetcher = this.#o.fetchers[schemeOf(url)];
    if (fetcher === undefined) return this.#finish({ type: "error", code: "unsupported-url", detail: `unsupported-url: ${url.slice(0, 64)}` });
    const max = this.#o.maxDescriptorBytes ?? 4096;
    const buffer = new Uint8Array(max);
    let length = 0;
    let status = 0;
    const stale = () => generation !== this.#generation;
    this.#exchange = fetcher(url, 0, {
      response: (s) => {
        status = s;
      },
      room: () => max - length + 1,
      body: (data) => {
        if (stale()) return;
        if (length + data.length > max) {
          this.#finish({ type: "error", code: "bad-descriptor", detail: `bad-descriptor: longer than ${max} bytes` });
          return;
        }
        buffer.set(data, length);
        length += data.length;
      },
      end: () => {
        if (stale() || !this.busy) return;
        this.#exchange = undefined;
        if (status !== 200) return this.#finish({ type: "error", code: "http-status", detail: `http-status: descriptor ${status}` });
        this.#run(buffer.slice(0, length), undefined);
      },
      fail: (code, message) => {
        if (stale() || !this.busy) return;
        this.#finish({ type: "error", code: "network", detail: `network: descriptor fetch ${code}${message ? ` (${message})` : ""}` });
      },
    });
  }

  #run(descriptor: string | Uint8Array, url: string | undefined): void {
    const o = this.#o;
    const firmware = o.target.geometry("firmware");
    const mod = o.target.geometry("mod");
    this.#updater = new Updater({
      ...o.updater,
      publicKey: this.#publicKey,
      crypto: o.crypto,
      policy: {
        board: o.board,
        runningVersion: o.runningVersion,
        runningModVersion: o.target.modVersion() ?? "0.0.0",
        floorVersion: o.target.floorVersion(),
        allowDowngrade: o.allowDowngrade,
      },
      targets: { ...(firmware ? { firmware } : {}), ...(mod ? { mod } : {}) },
      maxDescriptorBytes: o.maxDescriptorBytes,
    });
    this.#alarm = o.alarm(() => this.#feed({ type: "timer" }));
    this.#feed({ type: "start", descriptor, ...(url !== undefined ? { url } : {}) });
  }

  #feed(event: UpdaterEvent): void {
    const updater = this.#updater;
    if (updater === undefined || !this.busy) return;
    const actions = updater.handle(event, this.#o.now());
    for (const a of actions) {
      if (!this.busy || this.#updater !== updater) return;
      this.#run1(a);
    }
    if (this.busy && this.#updater === updater) this.#alarm?.arm(updater.nextDeadline());
  }

  #run1(a: UpdaterAction): void {
    const o = this.#o;
    switch (a.type) {
      case "erase":
        try {
          o.target.erase(a.kind, a.sector);
        } catch (e) {
          o.defer(() => this.#feed({ type: "flash-failed", message: (e as Error).message }));
          return;
        }
        o.defer(() => this.#feed({ type: "erased", sector: a.sector }));
        return;
      case "write":
        try {
          o.target.write(a.kind, a.offset, a.data);
        } catch (e) {
          this.#feed({ type: "flash-failed", message: (e as Error).message });
        }
        return;
      case "fetch":
        this.#startFetch(a.url, a.from);
        return;
      case "abort-fetch":
        this.#exchange?.close();
        this.#exchange = undefined;
        return;
      case "switch": {
        const d = a.descriptor;
        try {
          o.target.activate(a.kind, { size: d.size, sha256: descriptorDigest(d), version: d.version, minVersion: d.minVersion ?? "" });
        } catch (e) {
          this.#feed({ type: "flash-failed", message: (e as Error).message });
          return;
        }
        this.#feed({ type: "switched" });
        return;
      }
      case "progress":
        this.#onEvent?.({ type: "progress", detail: `${a.phase} ${a.done}/${a.total}` });
        return;
      case "notice":
        this.#onEvent?.({ type: "progress", detail: `${a.code}: ${a.detail}` });
        return;
      case "done":
        this.#updater = undefined;
        this.#finish({ type: "done", detail: `${a.descriptor.kind} ${a.descriptor.version} installed`, reboot: a.reboot });
        return;
      case "fail":
        this.#updater = undefined;
        this.#finish({ type: "error", code: a.error.code, detail: a.error.message });
        return;
    }
  }

  #startFetch(url: string, from: number): void {
    const fetcher = this.#o.fetchers[schemeOf(url)];
    const updater = this.#updater!;
    if (fetcher === undefined) {
      this.#updater = undefined;
      this.#finish({ type: "error", code: "unsupported-url", detail: `unsupported-url: ${url.slice(0, 64)}` });
      return;
    }
    let live = true;
    const mine = () => live && this.#updater === updater;
    const exchange = fetcher(url, from, {
      response: (status, contentLength, contentRange) => {
        if (mine()) this.#feed({ type: "response", status, ...(contentLength !== undefined ? { contentLength } : {}), ...(contentRange ? { contentRange } : {}) });
      },
      room: () => (mine() ? updater.room() : 0),
      body: (data) => {
        if (mine()) this.#feed({ type: "body", data });
      },
      end: () => {
        if (!mine()) return;
        live = false;
        this.#feed({ type: "end" });
      },
      fail: (code, message) => {
        if (!mine()) return;
        live = false;
        this.#feed({ type: "fetch-failed", code, ...(message !== undefined ? { message } : {}) });
      },
    }, updater.descriptor?.size);
    this.#exchange = {
      close: () => {
        live = false;
        exchange.close();
      },
    };
  }
}

/** Adapts the HTTP binding (src/http/client.ts) to the Fetcher seam. */
export function httpFetcher(
  get: (params: { url: string; rangeStart?: number }, handlers: import("../http/client.js").HttpGetHandlers) => { close(): void },
): Fetcher {
  return (url, from, sink) =>
    get(
      { url, rangeStart: from },
      {
        onHead: (head) => sink.response(head.status, head.contentLength, head.contentRange),
        onBody: (data) => sink.body(data),
        onEnd: () => sink.end(),
        onClose: (code, message) => {
          const kind: FetchFailure =
            code === "connect-timeout" || code === "idle-timeout" ? "timeout"
            : code === "peer-closed" || code === "unexpected-eof" ? "closed"
            : code === "network" || code === "dns" || code === "bad-url" ? "network"
            : "bad-response";
          sink.fail(kind, message ?? code);
        },
        room: () => sink.room(),
      },
    );
}


/**
 * The periodic check: every `intervalMs`, ask `url` (a descriptor URL) for an
 * update through the same agent — skipped while an update runs; a refusal
 * because the device already runs that version (`up-to-date`) is not reported.
 * `repeat` is the platform's repeating timer (src/platform/timer.ts setRepeating).
 */
export function periodicCheck(
  agent: OtaAgent,
  options: {
    url: string;
    intervalMs: number;
    repeat: (callback: () => void, intervalMs: number) => { cancel(): void };
    onEvent: (event: OtaAgentEvent) => void;
  },
): { cancel(): void } {
  if (!(options.intervalMs >= 60_000)) throw new MoteError("bad-option", "check interval below one minute");
  const payload = encodeUtf8(options.url);
  return options.repeat(() => {
    if (agent.busy) return;
    agent.start(payload, (event) => {
      if (event.type === "error" && event.code === "up-to-date") return;
      options.onEvent(event);
    });
  }, options.intervalMs);
}
