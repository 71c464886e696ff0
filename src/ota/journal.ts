/**
 * A small record kept safely across power cuts in two flash sectors.
 *
 * Each save goes to the sector NOT holding the newest copy (erase, then one
 * write of `[magic, seq, length, payload, crc32]`), so at any instant one
 * complete copy survives: a torn erase or write leaves a copy whose CRC
 * fails and `load()` picks the other. This is how ESP-IDF keeps `otadata`
 * (two sectors, sequence number, CRC — esp_ota_ops.c) and what the
 * simulated bootloader and the mod crash counter use.
 */
import { MoteError } from "../errors.js";
import { crc32 } from "../util/crc32.js";

export interface JournalFlash {
  readonly blockSize: number;
  read(offset: number, length: number): Uint8Array;
  write(offset: number, data: Uint8Array): void;
  erase(sector: number): void;
}

const MAGIC = 0x4d4f544a; // "MOTJ"
const HEADER = 12;

export class Journal {
  readonly #flash: JournalFlash;
  readonly #firstSector: number;
  readonly #maxPayload: number;

  /** Uses sectors `firstSector` and `firstSector + 1` of `flash`. */
  constructor(flash: JournalFlash, firstSector: number, maxPayload = 512) {
    if (maxPayload + HEADER + 4 > flash.blockSize) throw new MoteError("bad-option", "journal payload larger than a sector");
    this.#flash = flash;
    this.#firstSector = firstSector;
    this.#maxPayload = maxPayload;
  }

  #readCopy(index: number): { seq: number; payload: Uint8Array } | undefined {
    const base = (this.#firstSector + index) * this.#flash.blockSize;
    const head = this.#flash.read(base, HEADER);
    const view = new DataView(head.buffer, head.byteOffset, HEADER);
    if (view.getUint32(0) !== MAGIC) return undefined;
    const seq = view.getUint32(4);
    const length = view.getUint32(8);
    if (length > this.#maxPayload) return undefined;
    const all = this.#flash.read(base, HEADER + length + 4);
    const stored = new DataView(all.buffer, all.byteOffset, all.length).getUint32(HEADER + length);
    if (crc32(all, 0, HEADER + length) !== stored) return undefined;
    return { seq, payload: all.slice(HEADER, HEADER + length) };
  }

  /** The newest intact copy, or undefined when none is. */
  load(): { seq: number; payload: Uint8Array } | undefined {
    const a = this.#readCopy(0);
    const b = this.#readCopy(1);
    if (a === undefined) return b;
    if (b === undefined) return a;
    return (b.seq - a.seq) | 0 ? (((b.seq - a.seq) | 0) > 0 ? b : a) : a;
  }

  /** Saves `payload` as the newest copy. Returns its sequence number. */
  save(payload: Uint8Array): number {
    if (payload.length > this.#maxPayload) throw new MoteError("too-large", "journal payload");
    const a = this.#readCopy(0);
    const b = this.#readCopy(1);
    const newest = a === undefined ? b : b === undefined ? a : ((b.seq - a.seq) | 0) > 0 ? b : a;
    const newestIndex = newest === undefined ? 1 : newest === a ? 0 : 1;
    const target = 1 - newestIndex;
    const seq = ((newest?.seq ?? 0) + 1) >>> 0;
    const out = new Uint8Array(HEADER + payload.length + 4);
    const view = new DataView(out.buffer);
    view.setUint32(0, MAGIC);
    view.setUint32(4, seq);
    view.setUint32(8, payload.length);
    out.set(payload, HEADER);
    view.setUint32(HEADER + payload.length, crc32(out, 0, HEADER + payload.length));
    this.#flash.erase(this.#firstSector + target);
    this.#flash.write((this.#firstSector + target) * this.#flash.blockSize, out);
    return seq;
  }
}
