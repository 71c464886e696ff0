/*
 * mote/ota-boot — ESP-IDF app rollback for JavaScript (ESP32).
 * Contract: src/platform/ota-boot.d.ts; native half: ota-boot.c; simulator twin:
 * host-shim/node/ota-boot.ts. Each function is a host function of ota-boot.c.
 */

function runningPartition() @ "xs_otaboot_runningPartition";
function nextUpdatePartition() @ "xs_otaboot_nextUpdatePartition";
function partitionState(label) @ "xs_otaboot_partitionState";
function setBootPartitionNative(label, byteLength, sha256, version, minVersion) @ "xs_otaboot_setBootPartition";
function markValid() @ "xs_otaboot_markValid";
function markInvalid() @ "xs_otaboot_markInvalid";
function restart(reason) @ "xs_otaboot_restart";
function floorVersion() @ "xs_otaboot_floorVersion";

/* The image object is unpacked here so the C side needs no property identifiers (xsID_*). */
function setBootPartition(label, image) {
	if ((null === image) || ("object" !== typeof image))
		throw new TypeError("image: object expected");
	setBootPartitionNative(label, image.byteLength, image.sha256, image.version, image.minVersion);
}

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
