/**
 * Memory figures from Moddable's `instrumentation` module. Undefined where
 * the host does not report them (Moddable fills them in builds made with
 * `mcconfig -i` or `-d`, and always on the ESP32 port's instrumented builds;
 * the simulator's twin knows only the free memory it simulates). Stateless,
 * so the module can be preloaded.
 */
import Debug from "debug";
import Instrumentation from "instrumentation";

/** Read at every telemetry record: a constant, not a literal (src/mqtt/names.ts says why). */
const SYSTEM_FREE_MEMORY = "System Free Memory";

function read(name: string): number | undefined {
  try {
    const index = Instrumentation.map(name as Parameters<typeof Instrumentation.map>[0]);
    if (index === undefined) return undefined;
    // no `typeof value === "number"`: a literal in preloaded code is a chunk per run (src/mqtt/names.ts)
    const value: unknown = Instrumentation.get(index);
    return Number.isFinite(value) && (value as number) >= 0 ? (value as number) : undefined;
  } catch {
    return undefined;
  }
}

/** "System Free Memory": on the ESP32, the heap left to ESP-IDF allocations, in bytes. */
export function systemFreeMemory(): number | undefined {
  return read(SYSTEM_FREE_MEMORY);
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
