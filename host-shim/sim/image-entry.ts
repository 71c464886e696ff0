/**
 * The default program's image: every module of src/app/start.ts evaluated,
 * nothing started. On the board Moddable's linker (xsl) evaluates these same
 * modules at build time and puts the objects they make in flash (the preload,
 * docs/moddable.md), so the chip's RAM holds only what `start()` makes after.
 * The simulator measures this image's heap once and subtracts it from the
 * running device's (host-shim/sim/chip-heap.ts).
 */
import { start } from "../../src/app/start.js";

// Kept reachable (and so evaluated and measured), not called.
(globalThis as unknown as { __moteImage: unknown }).__moteImage = start;
