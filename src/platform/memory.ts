/**
 * Free memory from Moddable's `instrumentation` module ("System Free Memory":
 * the ESP32 heap left to ESP-IDF allocations, in bytes). Undefined when the
 * host does not report it. Stateless, so the module can be preloaded.
 */
import Instrumentation from "instrumentation";

export function systemFreeMemory(): number | undefined {
  try {
    const index = Instrumentation.map("System Free Memory");
    if (index === undefined) return undefined;
    const value = Instrumentation.get(index);
    return typeof value === "number" && value >= 0 ? value : undefined;
  } catch {
    return undefined;
  }
}
