/**
 * The XS figures of an instrumented (`mcconfig -i`) lin build: once a second the
 * runtime prints an "instruments:" line (xs/sources/xsDebug.c
 * fxSampleInstrumentation), whose last 12 values are the XS machine's: chunk heap
 * used and allocated, slot heap used and allocated, stack peak and size, ... in
 * bytes on this host.
 *
 * On the ESP32 a slot is 16 bytes (a 32-bit chip) where this 64-bit host has 32;
 * chunks are mostly bytes, so they are left unscaled (an upper bound).
 */
export const SLOT_BYTES_LIN64 = 32;
export const SLOT_BYTES_ESP32 = 16;

export interface Instruments {
  chunksUsed: number;
  chunksAllocated: number;
  slotsUsed: number;
  slotsAllocated: number;
  /** Peak stack of the last second, bytes. */
  stackPeak: number;
  /** Garbage collections so far. */
  collections: number;
  /** Promises alive. */
  promises: number;
}

/** The xs part of an "instruments:" line; undefined for any other line. */
export function parseInstruments(line: string): Instruments | undefined {
  const m = /^instruments: ([0-9,-]+)$/.exec(line.trim());
  if (!m) return undefined;
  const v = m[1].split(",").map(Number);
  if (v.length < 12) return undefined;
  const x = v.slice(-12);
  return { chunksUsed: x[0], chunksAllocated: x[1], slotsUsed: x[2], slotsAllocated: x[3], stackPeak: x[4], collections: x[6], promises: x[11] };
}

/** Slot bytes of this host scaled to the ESP32's 16-byte slots, plus chunk bytes (unscaled). */
export function esp32Bytes(slotBytes: number, chunkBytes: number): number {
  return (slotBytes / SLOT_BYTES_LIN64) * SLOT_BYTES_ESP32 + chunkBytes;
}
