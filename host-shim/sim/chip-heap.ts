/**
 * The heap of a simulated device on the chip's terms (issue 17, "heap on the
 * chip's terms").
 *
 * What xsnap counts is not what the chip holds: xsnap's slot count after a gc
 * (~380–650 KB of 32-byte slots) includes every built-in object and every object
 * the program's modules make when they are evaluated. On the board Moddable's
 * linker evaluates those modules at build time and keeps their objects in flash
 * (the preload, docs/moddable.md), and the built-ins are in flash too; RAM holds
 * what the program makes after `start()`. So:
 *
 *   ESP32 slot heap ≈ (live slots − slots of the image) × 16 bytes
 *
 * where the image is the same modules evaluated and not started
 * (host-shim/sim/image-entry.ts), measured once per process in an engine of its
 * own, and 16 bytes is a txSlot on a 32-bit chip (32 on this 64-bit host).
 *
 * What it does not count: chunks (strings, buffers, arrays' storage; the stock
 * xsnap worker reports slots only), which Moddable's "XS Chunk Heap Used" adds.
 * And what it counts that the chip does not hold: the bridge's own objects (a
 * proxy per host object, its callback tables) and anything that differs between
 * the two runtimes. Measured on 2026-12-05 for the default program, connected and
 * publishing: 2,300 slots (36.8 KB at 16 bytes) without the CoAP observer, ~3,250
 * (52 KB) with it, against 1,614 slots (25.8 KB) on Moddable's runtime
 * (`npm run bench -- moddable`, live_slots_after_boot): this reads 1.4–2× high, an
 * upper bound, labelled as an estimate. docs/simulator.md, "Output".
 */
import { bundleForXs, startXs } from "../xs/engine.js";

/** A txSlot on the 64-bit host and on the 32-bit ESP32. */
export const HOST_SLOT_BYTES = 32;
export const ESP32_SLOT_BYTES = 16;

/** The entry whose bundle is the default program's image. */
export const IMAGE_ENTRY = "host-shim/sim/image-entry.ts";

const images = new Map<string, Promise<number | undefined>>();

/**
 * xsnap heap (bytes, after a gc) of the default program's image, measured once per
 * process and worker binary; undefined when it cannot be measured (the estimate is
 * then not shown, the xsnap figure is).
 */
export function imageHeapBytes(xsnapBinary?: string): Promise<number | undefined> {
  const key = xsnapBinary ?? "stock";
  let p = images.get(key);
  if (p === undefined) {
    p = (async () => {
      const xs = await startXs({ bundle: await bundleForXs(IMAGE_ENTRY), name: "mote-image", stdio: "ignore", xsnapBinary });
      try {
        return (await xs.meters()).heapBytes;
      } finally {
        await xs.close();
      }
    })().catch(() => undefined);
    images.set(key, p);
  }
  return p;
}

/** The ESP32 slot heap estimate from the live xsnap heap and the image's (both bytes after a gc). */
export function esp32SlotBytes(liveHeapBytes: number, imageBytes: number): number {
  return (Math.max(0, liveHeapBytes - imageBytes) / HOST_SLOT_BYTES) * ESP32_SLOT_BYTES;
}
