/**
 * Node twin of Moddable's `instrumentation` module. Only "System Free Memory"
 * has a meaning on the desktop, and only as simulated hardware: it reports
 * `configureHardware({ freeMemoryBytes })`, and nothing (undefined) otherwise —
 * the Node process's own heap says nothing about a 520 KB chip.
 */
import { hardware } from "./hardware.js";

const NAMES = Object.freeze(["System Free Memory"]);

const Instrumentation = Object.freeze({
  map(name: string): number | undefined {
    const i = NAMES.indexOf(name);
    return i < 0 ? undefined : i + 1;
  },
  name(what: number | undefined): string | undefined {
    return what === undefined ? undefined : NAMES[what - 1];
  },
  get(what: number | undefined): number | undefined {
    return what === 1 ? hardware().freeMemoryBytes : undefined;
  },
});

export default Instrumentation;
