/**
 * The update as a sans-I/O core: descriptor in, flash operations out.
 *
 * Theory of operation
 *   1. `start`: the descriptor is parsed, its signature checked, then board,
 *      kind, version and size against the device (descriptor.ts). A refusal
 *      is a `fail` action and NOTHING else happens: no erase, no download.
 *   2. erasing: one `erase` action per sector; the binding feeds `erased`
 *      after each, yielding to the event loop in between so the watchdog is
 *      fed and the network stays serviced (a 1.8 MB slot is ~460 sectors).
 *   3. downloading: `fetch { url, from }` asks for the image from byte
 *      `from` (Range: bytes=from-, RFC 9110 §14.2). Body bytes are hashed as
 *      they arrive and gathered in ONE bounded buffer (`chunkSize`, default
 *      4096, at most 8192) that is written out when full. The first
 *      `headerBytes` of the image are held back and written LAST, after the
 *      hash has been verified: a torn or rejected image never carries a
 *      valid header, so it is never booted or loaded as a mod.
 *      Resume: a failed or short transfer is retried from the next byte
 *      needed. A 206 must start exactly there (Content-Range, §14.4). A 200
 *      to a Range request means the server ignored Range (§14.2 allows it):
 *      the first `from` bytes of that body are discarded, never appended at
 *      the offset (policy `onRangeIgnored: "skip"`, default), or the update
 *      fails with `range-ignored` (policy "fail").
 *   4. verifying: size and SHA-256 of all bytes received must equal the
 *      descriptor, then the header is written and `switch` asks the facade
 *      to make the new image the one to boot (pending verification).
 *
 * Binding contract: actions are performed in order before the next event is
 * fed; `write` data is a view of the core's buffer, valid until then; a
 * `body` event carries at most `room()` bytes; erase completion is fed back
 * as `erased`, switch completion as `switched`; a flash exception as
 * `flash-failed`. Time only comes in as `now` (retry back-off).
 */
import { MoteError } from "../errors.js";
import type { ContentRange } from "../http/response.js";
import {
  acceptDescriptor,
  descriptorDigest,
  parseDescriptor,
  validateDescriptor,
  type Descriptor,
  type OtaCrypto,
  type UpdateKind,
  type UpdatePolicy,
} from "./descriptor.js";
import { bytesEqual } from "./encoding.js";
import { OtaError, type OtaErrorCode } from "./errors.js";

export interface SlotGeometry {
  readonly byteLength: number;
  readonly blockSize: number;
}

export interface UpdaterOptions {
  /** 65-byte uncompressed P-256 public key of the update signer. */
  readonly publicKey: Uint8Array;
  readonly crypto: OtaCrypto;
  /** Device facts for the admission check; maxSize comes from the target geometry. */
  readonly policy: Omit<UpdatePolicy, "maxSize" | "runningVersion"> & {
    /** Running version per kind (a mod has its own version line). */
    readonly runningVersion: string;
    readonly runningModVersion?: string;
  };
  /** Geometry of the inactive firmware slot, and of the mod partition (absent: that kind is refused). */
  readonly targets: { readonly firmware?: SlotGeometry; readonly mod?: SlotGeometry };
  /** Write buffer size, bytes. Default 4096; 512..8192. */
  readonly chunkSize?: number;
  /** Leading image bytes written last. Default 16 (covers the ESP32 image header magic and an XS archive's first atom). */
  readonly headerBytes?: number;
  /** Fetch attempts including the first. Default 6. */
  readonly maxAttempts?: number;
  /** First retry delay, doubled per attempt up to maxRetryDelayMs. Defaults 1000 / 30000. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** What to do when a server answers 200 to a Range request. Default "skip". */
  readonly onRangeIgnored?: "skip" | "fail";
  /** Progress granularity in bytes. Default: 1/20 of the image, at least one chunk. */
  readonly progressStep?: number;
  /** Largest descriptor accepted. Default 4096. */
  readonly maxDescriptorBytes?: number;
}

export type UpdaterEvent =
  | { type: "start"; descriptor: Uint8Array | string | Descriptor; url?: string }
  | { type: "erased"; sector: number }
  | { type: "response"; status: number; contentLength?: number; contentRange?: ContentRange }
  | { type: "body"; data: Uint8Array }
  | { type: "end" }
  | { type: "fetch-failed"; code: "network" | "timeout" | "closed" | "bad-response"; message?: string }
  | { type: "switched" }
  | { type: "flash-failed"; message?: string }
  | { type: "timer" }
  | { type: "cancel" };

export type UpdatePhase = "erase" | "download" | "verify" | "switch";

export type UpdaterAction =
  | { type: "erase"; kind: UpdateKind; sector: number }
  | { type: "write"; kind: UpdateKind; offset: number; data: Uint8Array }
  | { type: "fetch"; url: string; from: number }
  | { type: "abort-fetch" }
  | { type: "progress"; phase: UpdatePhase; done: number; total: number }
  | { type: "notice"; code: "range-ignored" | "resuming"; detail: string }
  | { type: "switch"; kind: UpdateKind; descriptor: Descriptor }
  | { type: "done"; descriptor: Descriptor; reboot: boolean }
  | { type: "fail"; error: OtaError };

export type UpdaterState = "idle" | "erasing" | "downloading" | "waiting-retry" | "switching" | "done" | "failed";

const MAX_CHUNK = 8192;

export class Updater {
  readonly #o: UpdaterOptions;
  readonly #chunkSize: number;
  readonly #headerBytes: number;
  #state: UpdaterState = "idle";
  #descriptor: Descriptor | undefined;
  #url = "";
  #kind: UpdateKind = "firmware";
  #sectors = 0;
  #hash: ReturnType<OtaCrypto["createSha256"]> | undefined;
  /** Next image byte wanted (= bytes hashed so far). */
  #received = 0;
  /** Bytes still to discard at the head of the current body (server ignored Range). */
  #skip = 0;
  #responseSeen = false;
  #buffer: Uint8Array | undefined;
  #bufferStart = 0;
  #buffered = 0;
  #header: Uint8Array | undefined;
  #attempts = 0;
  #retryAt: number | undefined;
  #nextProgress = 0;
  #progressStep = 0;

  constructor(options: UpdaterOptions) {
    const chunk = options.chunkSize ?? 4096;
    if (!Number.isInteger(chunk) || chunk < 512 || chunk > MAX_CHUNK) throw new MoteError("bad-option", "chunkSize must be 512..8192");
    const header = options.headerBytes ?? 16;
    if (!Number.isInteger(header) || header < 1 || header > chunk) throw new MoteError("bad-option", "headerBytes must be 1..chunkSize");
    this.#o = options;
    this.#chunkSize = chunk;
    this.#headerBytes = header;
  }

  get state(): UpdaterState {
    return this.#state;
  }

  get descriptor(): Descriptor | undefined {
    return this.#descriptor;
  }

  /** Image bytes received and hashed so far. */
  get received(): number {
    return this.#received;
  }

  /** Bytes the next `body` event may carry. */
  room(): number {
    return this.#state === "downloading" ? this.#chunkSize - this.#buffered + this.#skip : 0;
  }

  /** Bytes of memory this core holds for image data (the write buffer and the held header). */
  bufferBytes(): number {
    return (this.#buffer?.length ?? 0) + (this.#header?.length ?? 0);
  }

  nextDeadline(): number | undefined {
    return this.#state === "waiting-retry" ? this.#retryAt : undefined;
  }

  #fail(code: OtaErrorCode, message?: string, abort = false): UpdaterAction[] {
    this.#state = "failed";
    this.#buffer = undefined;
    this.#header = undefined;
    this.#hash = undefined;
    const actions: UpdaterAction[] = abort ? [{ type: "abort-fetch" }] : [];
    actions.push({ type: "fail", error: new OtaError(code, message) });
    return actions;
  }

  handle(event: UpdaterEvent, now: number): UpdaterAction[] {
    this.#lastNow = now;
    switch (event.type) {
      case "start":
        return this.#start(event.descriptor, event.url);
      case "cancel":
        if (this.#state === "done" || this.#state === "failed" || this.#state === "idle") return [];
        return this.#fail("cancelled", undefined, this.#state === "downloading");
      case "flash-failed":
        if (this.#state === "done" || this.#state === "failed" || this.#state === "idle") return [];
        return this.#fail("flash", event.message, this.#state === "downloading");
      case "erased":
        return this.#erased(event.sector);
      case "response":
        return this.#response(event);
      case "body":
        return this.#body(event.data);
      case "end":
        if (this.#state !== "downloading") return [];
        return this.#retry(now, "truncated", "server ended the body early", false);
      case "fetch-failed":
        if (this.#state !== "downloading") return [];
        return this.#retry(now, event.code === "timeout" ? "timeout" : event.code === "bad-response" ? "bad-response" : event.code === "closed" && this.#received > 0 ? "truncated" : "network", event.message, false);
      case "timer":
        if (this.#state !== "waiting-retry" || this.#retryAt === undefined || now < this.#retryAt) return [];
        return this.#fetch();
      case "switched":
        if (this.#state !== "switching") return [];
        this.#state = "done";
        this.#header = undefined;
        return [
          { type: "progress", phase: "switch", done: 1, total: 1 },
          { type: "done", descriptor: this.#descriptor!, reboot: true },
        ];
    }
  }

  #start(input: Uint8Array | string | Descriptor, url: string | undefined): UpdaterAction[] {
    if (this.#state !== "idle") throw new MoteError("bad-state", "an updater runs one update");
    const { policy, targets } = this.#o;
    let d: Descriptor;
    try {
      const parsed =
        typeof input === "string" || input instanceof Uint8Array ? parseDescriptor(input, this.#o.maxDescriptorBytes) : validateDescriptor(input);
      // Signature first (inside acceptDescriptor), then board, kind, version (the mod's own line for a mod) and size.
      d = acceptDescriptor(parsed, {
        publicKey: this.#o.publicKey,
        crypto: this.#o.crypto,
        policy: {
          ...policy,
          kinds: (["firmware", "mod"] as const).filter((k) => targets[k] !== undefined && (policy.kinds ?? ["firmware", "mod"]).includes(k)),
          maxSize: targets[parsed.kind]?.byteLength ?? 0,
          runningVersion: parsed.kind === "mod" ? (policy.runningModVersion ?? "0.0.0") : policy.runningVersion,
        },
      });
    } catch (e) {
      if (e instanceof OtaError) return this.#fail(e.code, e.message);
      throw e;
    }
    const target = targets[d.kind]!;
    const chosen = url ?? d.urls?.[0];
    if (chosen === undefined) return this.#fail("no-url");
    this.#descriptor = d;
    this.#url = chosen;
    this.#kind = d.kind;
    this.#sectors = Math.ceil(d.size / target.blockSize);
    this.#progressStep = this.#o.progressStep ?? Math.max(this.#chunkSize, Math.ceil(d.size / 20));
    this.#state = "erasing";
    return [
      { type: "progress", phase: "erase", done: 0, total: this.#sectors },
      { type: "erase", kind: d.kind, sector: 0 },
    ];
  }

  #erased(sector: number): UpdaterAction[] {
    if (this.#state !== "erasing") return [];
    if (sector + 1 < this.#sectors) {
      const actions: UpdaterAction[] = [];
      if ((sector + 1) % 64 === 0) actions.push({ type: "progress", phase: "erase", done: sector + 1, total: this.#sectors });
      actions.push({ type: "erase", kind: this.#kind, sector: sector + 1 });
      return actions;
    }
    this.#state = "downloading";
    this.#hash = this.#o.crypto.createSha256();
    this.#buffer = new Uint8Array(this.#chunkSize);
    this.#header = new Uint8Array(Math.min(this.#headerBytes, this.#descriptor!.size));
    this.#bufferStart = 0;
    this.#buffered = 0;
    this.#received = 0;
    this.#nextProgress = this.#progressStep;
    return [{ type: "progress", phase: "erase", done: this.#sectors, total: this.#sectors }, ...this.#fetch()];
  }

  #fetch(): UpdaterAction[] {
    this.#state = "downloading";
    this.#attempts++;
    this.#retryAt = undefined;
    this.#responseSeen = false;
    this.#skip = 0;
    return [{ type: "fetch", url: this.#url, from: this.#received }];
  }

  #response(event: Extract<UpdaterEvent, { type: "response" }>): UpdaterAction[] {
    if (this.#state !== "downloading" || this.#responseSeen) return [];
    this.#responseSeen = true;
    const size = this.#descriptor!.size;
    const from = this.#received;
    if (event.status === 206) {
      const cr = event.contentRange;
      if (cr === undefined || cr.start !== from || cr.end !== size - 1 || (cr.total !== undefined && cr.total !== size)) {
        const got = cr === undefined ? "none" : `${cr.start}-${cr.end}/${cr.total ?? "*"}`;
        return this.#fail(cr !== undefined && cr.total !== undefined && cr.total !== size ? "size-mismatch" : "bad-range", `asked ${from}-, got ${got}`, true);
      }
      if (event.contentLength !== undefined && event.contentLength !== size - from) return this.#fail("size-mismatch", `206 of ${event.contentLength} bytes`, true);
      return from > 0 ? [{ type: "notice", code: "resuming", detail: `from byte ${from}` }] : [];
    }
    if (event.status === 200) {
      if (event.contentLength !== undefined && event.contentLength !== size) {
        return this.#fail("size-mismatch", `server has ${event.contentLength} bytes, descriptor says ${size}`, true);
      }
      if (from === 0) return [];
      // RFC 9110 §14.2: the server may ignore Range and send the whole file.
      if (this.#o.onRangeIgnored === "fail") return this.#fail("range-ignored", `asked from ${from}, got 200`, true);
      this.#skip = from;
      return [{ type: "notice", code: "range-ignored", detail: `discarding the first ${from} bytes of a full response` }];
    }
    if (event.status >= 500) {
      return [{ type: "abort-fetch" }, ...this.#retry(undefined, "http-status", `status ${event.status}`, true)];
    }
    return this.#fail("http-status", `status ${event.status}`, true);
  }

  #body(data: Uint8Array): UpdaterAction[] {
    if (this.#state !== "downloading") return [];
    if (!this.#responseSeen) throw new MoteError("bad-state", "body before response");
    if (data.length > this.room()) throw new MoteError("overflow", `body of ${data.length} bytes, room ${this.room()}`);
    let input = data;
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, input.length);
      this.#skip -= n;
      input = input.subarray(n);
    }
    if (input.length === 0) return [];
    const size = this.#descriptor!.size;
    if (this.#received + input.length > size) return this.#fail("size-mismatch", "server sent more than the descriptor's size", true);
    this.#hash!.write(input);
    this.#buffer!.set(input, this.#buffered);
    this.#buffered += input.length;
    this.#received += input.length;
    const actions: UpdaterAction[] = [];
    if (this.#buffered === this.#chunkSize || this.#received === size) this.#flush(actions);
    if (this.#received >= this.#nextProgress && this.#received < size) {
      actions.push({ type: "progress", phase: "download", done: this.#received, total: size });
      this.#nextProgress = (Math.floor(this.#received / this.#progressStep) + 1) * this.#progressStep;
    }
    if (this.#received === size) actions.push(...this.#finish());
    return actions;
  }

  /** Writes the buffered bytes; bytes below `headerBytes` go to the held header instead. */
  #flush(actions: UpdaterAction[]): void {
    if (this.#buffered === 0) return;
    let start = 0;
    const header = this.#header!;
    if (this.#bufferStart < header.length) {
      start = Math.min(this.#buffered, header.length - this.#bufferStart);
      header.set(this.#buffer!.subarray(0, start), this.#bufferStart);
    }
    if (start < this.#buffered) {
      actions.push({ type: "write", kind: this.#kind, offset: this.#bufferStart + start, data: this.#buffer!.subarray(start, this.#buffered) });
    }
    this.#bufferStart += this.#buffered;
    this.#buffered = 0;
  }

  #finish(): UpdaterAction[] {
    const d = this.#descriptor!;
    const digest = this.#hash!.close();
    this.#hash = undefined;
    const actions: UpdaterAction[] = [
      { type: "abort-fetch" },
      { type: "progress", phase: "download", done: d.size, total: d.size },
      { type: "progress", phase: "verify", done: 0, total: 1 },
    ];
    if (!bytesEqual(digest, descriptorDigest(d))) return [...actions, ...this.#fail("hash-mismatch")];
    this.#state = "switching";
    // Header last: the image becomes recognisable only now that it is complete and verified.
    actions.push({ type: "write", kind: this.#kind, offset: 0, data: this.#header! });
    actions.push({ type: "progress", phase: "verify", done: 1, total: 1 });
    actions.push({ type: "switch", kind: this.#kind, descriptor: d });
    this.#buffer = undefined;
    return actions;
  }

  #retry(now: number | undefined, code: OtaErrorCode, message: string | undefined, aborted: boolean): UpdaterAction[] {
    const actions: UpdaterAction[] = [];
    this.#flush(actions);
    if (!aborted) actions.push({ type: "abort-fetch" });
    if (this.#attempts >= (this.#o.maxAttempts ?? 6)) {
      return [...actions, ...this.#fail(code, `${message ?? code} after ${this.#attempts} attempts`)];
    }
    const base = this.#o.retryDelayMs ?? 1000;
    const delay = Math.min(base * 2 ** (this.#attempts - 1), this.#o.maxRetryDelayMs ?? 30_000);
    this.#state = "waiting-retry";
    this.#retryAt = (now ?? this.#lastNow) + delay;
    actions.push({ type: "notice", code: "resuming", detail: `${code}: retry from byte ${this.#received} in ${delay} ms` });
    return actions;
  }

  #lastNow = 0;
}
