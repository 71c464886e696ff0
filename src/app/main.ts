/**
 * The simulator's device script (dist/sim/device.js, evaluated in XS): starts
 * the device program at once. On the board, Moddable's entry module
 * (dist/device/main.js, written by scripts/build.mjs) does the same with the
 * preloaded `mote` module (src/app/start.ts). In the simulator the restart
 * call does nothing; the simulator restarts the engine when it sees
 * `status().reboot`.
 */
import { start } from "./start.js";

start();
