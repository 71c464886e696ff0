/**
 * Free memory from Moddable's `instrumentation` module ("System Free Memory":
 * the ESP32 heap left to ESP-IDF allocations, in bytes). Undefined when the
 * host does not report it.
 */
import Instrumentation from "instrumentation";

let index: number | undefined | null = null;

export function systemFreeMemory(): number | undefined {
  try {
    if (index === null) index = Instrumentation.map("System Free Memory");
    if (index === undefined) return undefined;
    const value = Instrumentation.get(index);
    return typeof value === "number" && value >= 0 ? value : undefined;
  } catch {
    return undefined;
  }
}
