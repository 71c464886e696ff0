/*
 * `flash` for Moddable's desktop targets: the partitions of boards/esp32/partitions.csv
 * as files "flash-<label>.bin" under config.file.root, with NOR semantics (erase sets a
 * 4 KB block to 0xFF; write can only clear bits), so code that forgets an erase fails
 * here as it does on the chip. Same class shape as $(MODDABLE)/modules/files/flash.
 * App slots open as "nextota" / "running", never by label, as on the ESP32 port.
 */
import { File } from "file";
import config from "mc/config";
import boot from "mote/ota-boot";

const BLOCK = 4096;
const SIZES = Object.freeze({ ota_0: 0x1d0000, ota_1: 0x1d0000, xs: 0x40000 });

function path(label) {
	return config.file.root + "flash-" + label + ".bin";
}

export default class Flash {
	#label;
	#size;
	constructor(name) {
		let label = name;
		if ("nextota" === name) label = boot.nextUpdatePartition();
		else if ("running" === name) label = boot.runningPartition();
		else if (name.startsWith("ota_")) throw new Error("partition not found");
		const size = SIZES[label];
		if (undefined === size) throw new Error("partition not found");
		this.#label = label;
		this.#size = size;
		if (!File.exists(path(label))) {
			const f = new File(path(label), true);
			const erased = new Uint8Array(BLOCK).fill(0xff);
			for (let i = 0; i < size; i += BLOCK) f.write(erased.buffer);
			f.close();
		}
	}
	get byteLength() {
		return this.#size;
	}
	get blockSize() {
		return BLOCK;
	}
	#check(offset, byteLength) {
		if (!(offset >= 0) || !(byteLength >= 0) || (offset + byteLength > this.#size)) throw new RangeError("out of range");
	}
	read(offset, byteLength) {
		this.#check(offset, byteLength);
		const f = new File(path(this.#label));
		try {
			f.position = offset;
			return f.read(ArrayBuffer, byteLength);
		} finally {
			f.close();
		}
	}
	readString(offset, byteLength) {
		return String.fromArrayBuffer(this.read(offset, byteLength));
	}
	write(offset, byteLength, buffer) {
		this.#check(offset, byteLength);
		const data = ArrayBuffer.isView(buffer)
			? new Uint8Array(buffer.buffer, buffer.byteOffset, byteLength)
			: new Uint8Array(buffer, 0, byteLength);
		const old = new Uint8Array(this.read(offset, byteLength));
		for (let i = 0; i < byteLength; i++) old[i] &= data[i];
		const f = new File(path(this.#label), true);
		try {
			f.position = offset;
			f.write(old.buffer);
		} finally {
			f.close();
		}
	}
	erase(sector) {
		if (!Number.isInteger(sector) || (sector < 0) || (sector >= this.#size / BLOCK)) throw new RangeError("out of range");
		const f = new File(path(this.#label), true);
		try {
			f.position = sector * BLOCK;
			f.write(new Uint8Array(BLOCK).fill(0xff).buffer);
		} finally {
			f.close();
		}
	}
	map() {
		throw new Error("unsupported");
	}
}
