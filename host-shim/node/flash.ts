/**
 * Node twin of Moddable's `flash` module: named partitions stored as files
 * `<stateDir>/flash/<name>.bin`, with NOR-flash semantics —
 *   erase(sector): the block becomes 0xFF;
 *   write(offset, length, buffer): stored = old AND new (bits only go 1 -> 0),
 * so code that forgets to erase before writing fails here as on a chip.
 *
 * Fault injection for power-cut tests: `armPowerCut(n)` lets n more flash
 * operations (erase or write, any partition) complete; operation n+1 is torn
 * (only its first half reaches the "disk") and throws `PowerCutError`, and
 * every later operation throws until `restorePower()` — what the device sees
 * when power drops mid-write and the program never runs the next line.
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { stateDir } from "./hardware.js";

export const SECTOR_SIZE = 4096;

/** Default partition table of the simulated board (bytes), after ESP32's two-OTA layouts. */
export const DEFAULT_PARTITIONS: Readonly<Record<string, number>> = Object.freeze({
  otadata: 2 * SECTOR_SIZE,
  ota_0: 0x1d0000, // boards/*/partitions.csv
  ota_1: 0x1d0000,
  xs: 0x40000,
  modstate: 2 * SECTOR_SIZE,
});

export class PowerCutError extends Error {
  readonly code = "power-cut";
  constructor(op: string) {
    super(`power cut during ${op}`);
    this.name = "PowerCutError";
  }
}

interface FlashState {
  dir: string | undefined;
  partitions: Record<string, number>;
  /** Operations still allowed before the cut; undefined = no cut armed. */
  budget: number | undefined;
  off: boolean;
  operations: number;
}

const state: FlashState = {
  dir: undefined,
  partitions: { ...DEFAULT_PARTITIONS },
  budget: undefined,
  off: false,
  operations: 0,
};

/** Where partitions live; default `<hardware state dir>/flash` (host-shim/node/hardware.ts). */
export function configureFlash(options: { dir?: string; partitions?: Record<string, number> }): void {
  if (options.dir !== undefined) state.dir = options.dir;
  if (options.partitions !== undefined) state.partitions = { ...options.partitions };
}

export function flashDir(): string {
  return state.dir ?? join(stateDir(), "flash");
}

export function armPowerCut(afterOperations: number): void {
  state.budget = afterOperations;
  state.off = false;
}

export function restorePower(): void {
  state.budget = undefined;
  state.off = false;
}

export function powerIsOff(): boolean {
  return state.off;
}

/** Flash operations (erase + write) performed since start — to spread power cuts. */
export function flashOperations(): number {
  return state.operations;
}

/** Whether this operation may run fully (true), must be torn (false); throws when power is already off. */
function gate(op: string): boolean {
  if (state.off) throw new PowerCutError(op);
  state.operations++;
  if (state.budget === undefined) return true;
  if (state.budget > 0) {
    state.budget--;
    return true;
  }
  state.off = true;
  return false;
}

function partitionFile(name: string): { path: string; size: number } {
  const size = state.partitions[name];
  if (size === undefined) throw new Error(`no partition "${name}"`);
  const dir = flashDir();
  const path = join(dir, `${name}.bin`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(path, "w");
    try {
      const blank = new Uint8Array(64 * 1024).fill(0xff);
      for (let o = 0; o < size; o += blank.length) writeSync(fd, blank, 0, Math.min(blank.length, size - o), o);
    } finally {
      closeSync(fd);
    }
  }
  return { path, size };
}

function readFile(path: string, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const fd = openSync(path, "r");
  try {
    readSync(fd, out, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  return out;
}

function writeFile(path: string, offset: number, data: Uint8Array): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

/**
 * Names device code may open, as Moddable's esp32 flash module resolves them
 * (modules/files/flash/esp32): "xs", "running", "nextota", or a DATA partition
 * by label. App partitions (ota_0, ota_1) cannot be opened by their label on
 * the device, so the twin refuses them too; the simulated bootloader
 * (host-shim/node/ota.ts) opens them with `openPartitionByLabel`.
 */
const APP_PARTITIONS: readonly string[] = Object.freeze(["ota_0", "ota_1"]);
let slotResolver: ((which: "running" | "nextota") => string) | undefined;

/** Called by the simulated bootloader: which app slot "running" and "nextota" are now. */
export function setSlotResolver(resolve: (which: "running" | "nextota") => string): void {
  slotResolver = resolve;
}

function deviceVisible(name: string): string {
  if (name === "running" || name === "nextota") {
    const label = slotResolver?.(name);
    if (label === undefined) throw new Error("can't find partition");
    return label;
  }
  if (APP_PARTITIONS.includes(name)) throw new Error("can't find partition");
  return name;
}

const BY_LABEL = Symbol("by-label");

/** Any partition by label, app slots included: for the simulated bootloader only. */
export function openPartitionByLabel(name: string): Flash {
  return new Flash(name, BY_LABEL);
}

export default class Flash {
  readonly #path: string;
  readonly #name: string;
  readonly byteLength: number;
  readonly blockSize = SECTOR_SIZE;

  constructor(partition: string, access?: typeof BY_LABEL) {
    const name = access === BY_LABEL ? partition : deviceVisible(partition);
    const { path, size } = partitionFile(name);
    this.#path = path;
    this.#name = name;
    this.byteLength = size;
  }

  erase(sector: number): void {
    if (!Number.isInteger(sector) || sector < 0 || (sector + 1) * SECTOR_SIZE > this.byteLength) throw new RangeError("bad sector");
    const full = gate(`erase ${this.#name}#${sector}`);
    const blank = new Uint8Array(full ? SECTOR_SIZE : SECTOR_SIZE / 2).fill(0xff);
    writeFile(this.#path, sector * SECTOR_SIZE, blank);
    if (!full) throw new PowerCutError(`erase ${this.#name}#${sector}`);
  }

  read(offset: number, byteLength: number): ArrayBuffer {
    if (offset < 0 || byteLength < 0 || offset + byteLength > this.byteLength) throw new RangeError("bad read");
    if (state.off) throw new PowerCutError("read");
    return readFile(this.#path, offset, byteLength).buffer as ArrayBuffer;
  }

  write(offset: number, byteLength: number, buffer: ArrayBuffer | ArrayBufferView): void {
    if (offset < 0 || byteLength < 0 || offset + byteLength > this.byteLength) throw new RangeError("bad write");
    const src =
      buffer instanceof ArrayBuffer
        ? new Uint8Array(buffer, 0, byteLength)
        : new Uint8Array(buffer.buffer, buffer.byteOffset, byteLength);
    const full = gate(`write ${this.#name}@${offset}`);
    const n = full ? byteLength : byteLength >> 1;
    const merged = readFile(this.#path, offset, n);
    for (let i = 0; i < n; i++) merged[i] &= src[i]; // NOR: bits only clear
    writeFile(this.#path, offset, merged);
    if (!full) throw new PowerCutError(`write ${this.#name}@${offset}`);
  }

  map(): Uint8Array {
    return readFile(this.#path, 0, this.byteLength);
  }
}
