/**
 * Test doubles for the OTA cores: an in-memory NOR flash and a driver that
 * runs Updater actions against it and a scripted "server" — no sockets, no
 * clock but the numbers passed in.
 */
import { generateKeyPairSync } from "node:crypto";
import { describeImage, nodeOtaCrypto, rawPublicKey, signDescriptor } from "../../cli/ota-sign.js";
import type { Descriptor, UpdateKind } from "../../src/ota/descriptor.js";
import { encodeDescriptor } from "../../src/ota/descriptor.js";
import { Updater, type UpdaterAction, type UpdaterEvent, type UpdaterOptions } from "../../src/ota/updater.js";

export const SIGNER = generateKeyPairSync("ec", { namedCurve: "P-256" });
export const PUBLIC_KEY = rawPublicKey(SIGNER.publicKey);

export function makeImage(size: number, seed = 1): Uint8Array {
  let x = seed >>> 0 || 1;
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

export function signedFor(
  image: Uint8Array,
  fields: { version?: string; board?: string; kind?: UpdateKind; minVersion?: string; urls?: string[] } = {},
): Descriptor {
  return signDescriptor(
    describeImage(image, {
      version: fields.version ?? "2.0.0",
      board: fields.board ?? "sim",
      kind: fields.kind,
      minVersion: fields.minVersion,
      urls: fields.urls ?? ["http://127.0.0.1:1/fw.bin"],
      created: "2026-11-24T12:00:00Z",
    }),
    SIGNER.privateKey,
  );
}

export const descriptorText = (d: Descriptor) => encodeDescriptor(d);

export class MemFlash {
  readonly bytes: Uint8Array;
  erases = 0;
  writes = 0;
  constructor(readonly byteLength: number, readonly blockSize = 4096) {
    this.bytes = new Uint8Array(byteLength).fill(0xff);
  }
  erase(sector: number): void {
    this.erases++;
    this.bytes.fill(0xff, sector * this.blockSize, (sector + 1) * this.blockSize);
  }
  write(offset: number, data: Uint8Array): void {
    this.writes++;
    for (let i = 0; i < data.length; i++) this.bytes[offset + i] &= data[i];
  }
  read(offset: number, length: number): Uint8Array {
    return this.bytes.slice(offset, offset + length);
  }
  untouched(): boolean {
    return this.erases === 0 && this.writes === 0;
  }
}

export function updaterOptions(flash: MemFlash, extra: Partial<UpdaterOptions> = {}): UpdaterOptions {
  return {
    publicKey: PUBLIC_KEY,
    crypto: nodeOtaCrypto,
    policy: { board: "sim", runningVersion: "1.0.0", runningModVersion: "0.0.0" },
    targets: { firmware: flash, mod: flash },
    ...extra,
  };
}

/** Runs actions: erases and switches complete at once, writes land in `flash`; fetches are recorded for the test to answer. */
export class Driver {
  readonly log: UpdaterAction[] = [];
  readonly fetches: number[] = [];
  switched = false;
  now = 0;
  peakBufferBytes = 0;
  constructor(readonly updater: Updater, readonly flash: MemFlash) {}

  feed(event: UpdaterEvent): void {
    const queue: UpdaterEvent[] = [event];
    while (queue.length > 0) {
      const actions = this.updater.handle(queue.shift()!, this.now);
      this.peakBufferBytes = Math.max(this.peakBufferBytes, this.updater.bufferBytes());
      for (const a of actions) {
        this.log.push(a);
        if (a.type === "erase") {
          this.flash.erase(a.sector);
          queue.push({ type: "erased", sector: a.sector });
        } else if (a.type === "write") this.flash.write(a.offset, a.data);
        else if (a.type === "fetch") this.fetches.push(a.from);
        else if (a.type === "switch") {
          this.switched = true;
          queue.push({ type: "switched" });
        }
      }
    }
  }

  /** Body bytes in pieces no larger than the core's room, like a binding reading its socket. */
  body(data: Uint8Array, piece = 1460): void {
    let rest = data;
    while (rest.length > 0 && this.updater.state === "downloading") {
      const n = Math.min(rest.length, piece, this.updater.room());
      this.feed({ type: "body", data: rest.subarray(0, n) });
      rest = rest.subarray(n);
    }
  }

  /** Answers the last fetch like a correct server (206 for a range), optionally cutting after `cut` bytes. */
  serve(image: Uint8Array, options: { cut?: number; ignoreRange?: boolean; status?: number } = {}): void {
    const from = this.fetches[this.fetches.length - 1];
    const partial = from > 0 && !options.ignoreRange;
    const start = partial ? from : 0;
    this.feed({
      type: "response",
      status: options.status ?? (partial ? 206 : 200),
      contentLength: image.length - start,
      ...(partial ? { contentRange: { start, end: image.length - 1, total: image.length } } : {}),
    });
    const end = options.cut !== undefined ? Math.min(image.length, start + options.cut) : image.length;
    this.body(image.subarray(start, end));
    if (end < image.length) this.feed({ type: "fetch-failed", code: "closed" });
    else this.feed({ type: "end" });
  }

  last<T extends UpdaterAction["type"]>(type: T): Extract<UpdaterAction, { type: T }> | undefined {
    for (let i = this.log.length - 1; i >= 0; i--) if (this.log[i].type === type) return this.log[i] as Extract<UpdaterAction, { type: T }>;
    return undefined;
  }

  failure(): string | undefined {
    return this.last("fail")?.error.code;
  }
}
