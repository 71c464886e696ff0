/**
 * Node twin of the `mote/ota-boot` native module (src/platform/ota-boot.d.ts):
 * its default export is the object of functions, served from the simulated
 * bootloader state in host-shim/node/ota.ts.
 */
import {
  floorVersion,
  markInvalid,
  markValid,
  nextUpdatePartition,
  partitionState,
  restart,
  runningPartition,
  setBootPartition,
} from "./ota.js";

const otaBoot = Object.freeze({
  runningPartition,
  nextUpdatePartition,
  partitionState,
  setBootPartition,
  markValid,
  markInvalid,
  restart,
  floorVersion,
});

export default otaBoot;
