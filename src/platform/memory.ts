/**
 * Memory figures from Moddable's `instrumentation` module. Undefined where
 * the host does not report them (Moddable fills them in builds made with
 * `mcconfig -i` or `-d`, and always on the ESP32 port's instrumented builds;
 * the simulator's twin knows only the free memory it simulates). Stateless,
 * so the module can be preloaded.
 */
import Debug from "debug";
import Instrumentation from "instrumentation";

function read(name: string): number | undefined {
  try {
    const index = Instrumentation.map(name as Parameters<typeof Instrumentation.map>[0]);
    if (index === undefined) return undefined;
    const value = Instrumentation.get(index);
    return typeof value === "number" && value >= 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/** "System Free Memory": on the ESP32, the heap left to ESP-IDF allocations, in bytes. */
export function systemFreeMemory(): number | undefined {
  return read("System Free Memory");
}

/** The XS machine's own use, in bytes: slot heap, chunk heap, peak stack ("XS Stack Used"). */
export interface XsHeap {
  slots: number;
  chunks: number;
  stack: number | undefined;
}

/** `collect`: run XS's garbage collector first (Moddable's `debug` module), so slots and chunks are what is live. */
export function xsHeap(collect = false): XsHeap | undefined {
  if (collect) Debug.gc();
  const slots = read("XS Slot Heap Used");
  const chunks = read("XS Chunk Heap Used");
  if (slots === undefined || chunks === undefined || slots + chunks === 0) return undefined;
  return { slots, chunks, stack: read("XS Stack Used") };
}
