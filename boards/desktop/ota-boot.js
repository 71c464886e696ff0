/*
 * `mote/ota-boot` for Moddable's desktop targets (contract: src/platform/ota-boot.d.ts).
 * Boot state is a JSON file "mote-boot.json" under config.file.root, read once per
 * process (a process is one boot) and rewritten on every change, with ESP-IDF's
 * app-rollback rules: an image set to boot is "new"; the first boot into it makes it
 * "pending-verify"; a boot that finds it still pending (the program never called
 * markValid) marks it "invalid" and boots the previous slot. restart() ends the
 * process with status 75 (mote/process); the runner starts it again.
 */
import { File } from "file";
import config from "mc/config";
import { Digest } from "crypt";
import { exit, REBOOT_STATUS } from "mote/process";

const SLOTS = ["ota_0", "ota_1"];
const statePath = () => config.file.root + "mote-boot.json";
let state;

function save() {
	if (File.exists(statePath())) File.delete(statePath());
	const f = new File(statePath(), true);
	f.write(JSON.stringify(state));
	f.close();
}

function load() {
	if (state) return state;
	let s;
	try {
		const f = new File(statePath());
		s = JSON.parse(f.read(String));
		f.close();
	} catch {
		s = undefined;
	}
	if (!s || !SLOTS.includes(s.running)) s = { running: "ota_0", boot: "ota_0", states: { ota_0: "valid", ota_1: "empty" }, floor: "" };
	// One process is one boot: apply the bootloader's rules.
	if (s.boot !== s.running) {
		if (s.states[s.boot] === "new") {
			s.previous = s.running;
			s.running = s.boot;
			s.states[s.running] = "pending-verify";
		} else if (s.states[s.boot] === "valid") s.running = s.boot;
	} else if (s.states[s.running] === "pending-verify" && s.booted) {
		s.states[s.running] = "invalid";
		s.running = s.boot = s.previous ?? SLOTS[1 - SLOTS.indexOf(s.running)];
	}
	s.booted = s.states[s.running] === "pending-verify";
	state = s;
	save();
	return s;
}

function runningPartition() {
	return load().running;
}
function nextUpdatePartition() {
	return SLOTS[1 - SLOTS.indexOf(load().running)];
}
function partitionState(label) {
	if (!SLOTS.includes(label)) throw new Error("no such partition");
	return load().states[label] ?? "empty";
}
function setBootPartition(label, image) {
	const s = load();
	if (!SLOTS.includes(label) || label === s.running) throw new Error("not the next update partition");
	if ((null === image) || ("object" !== typeof image)) throw new TypeError("image: object expected");
	// esp_partition_get_sha256 over the image's bytes, read from the slot file in 4 KB pieces
	const f = new File(config.file.root + "flash-" + label + ".bin");
	const digest = new Digest("SHA256");
	try {
		for (let at = 0; at < image.byteLength; at += 4096) digest.write(f.read(ArrayBuffer, Math.min(4096, image.byteLength - at)));
	} finally {
		f.close();
	}
	const got = new Uint8Array(digest.close());
	const want = ArrayBuffer.isView(image.sha256) ? new Uint8Array(image.sha256.buffer, image.sha256.byteOffset, 32) : new Uint8Array(image.sha256);
	if (got.length !== want.length || got.some((b, i) => b !== want[i])) throw new Error("image hash mismatch");
	s.boot = label;
	s.states[label] = "new";
	s.pendingFloor = image.minVersion ?? "";
	save();
}
function markValid() {
	const s = load();
	if (s.states[s.running] !== "pending-verify") return;
	s.states[s.running] = "valid";
	s.booted = false;
	if (s.pendingFloor) s.floor = s.pendingFloor;
	save();
}
function markInvalid() {
	const s = load();
	s.states[s.running] = "invalid";
	s.boot = s.previous ?? SLOTS[1 - SLOTS.indexOf(s.running)];
	save();
}
function restart(reason) {
	trace(`mote: restart (${reason ?? "restart"})\n`);
	exit(REBOOT_STATUS);
}
function floorVersion() {
	return load().floor ?? "";
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
