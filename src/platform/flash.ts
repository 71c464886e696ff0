/**
 * Raw flash partitions through Moddable's `flash` module (ESP32: partition
 * found by label in partitions.csv; Node twin: files in the hardware state
 * dir). NOR semantics: `erase(sector)` sets a block to 0xFF, `write` can only
 * clear bits, so every write goes to erased space.
 */
/// <reference path="../../node_modules/@moddable/typings/flash.d.ts" />
import Flash from "flash";
import { MoteError } from "../errors.js";

export interface FlashPartition {
  readonly byteLength: number;
  readonly blockSize: number;
  read(offset: number, length: number): Uint8Array;
  write(offset: number, data: Uint8Array): void;
  erase(sector: number): void;
}

export function openFlash(partition: string): FlashPartition {
  let flash: Flash;
  try {
    flash = new Flash(partition);
  } catch (e) {
    throw new MoteError("no-partition", `${partition}: ${(e as Error).message}`);
  }
  const byteLength = flash.byteLength;
  const blockSize = flash.blockSize;
  return {
    byteLength,
    blockSize,
    read(offset: number, length: number): Uint8Array {
      if (offset < 0 || length < 0 || offset + length > byteLength) throw new MoteError("out-of-range", "flash read");
      return new Uint8Array(flash.read(offset, length) as ArrayBuffer);
    },
    write(offset: number, data: Uint8Array): void {
      if (offset < 0 || offset + data.length > byteLength) throw new MoteError("out-of-range", "flash write");
      flash.write(offset, data.length, data);
    },
    erase(sector: number): void {
      if (!Number.isInteger(sector) || sector < 0 || sector >= byteLength / blockSize) throw new MoteError("out-of-range", "flash erase");
      flash.erase(sector);
    },
  };
}
