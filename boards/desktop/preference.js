/*
 * `preference` for Moddable's desktop targets, preload-safe. Moddable's own lin module
 * reads its file in a static initializer, which runs at build time once a preloaded
 * module (mote) imports it; this one reads "modpreferences.json" under config.file.root
 * (the same file and format) at the first call, and writes it whole to a temporary
 * file renamed over the old one, so a kill mid-write leaves the previous contents.
 * Values: boolean, number, string, ArrayBuffer (stored as {"buffer": "1,2,3"}).
 * Buffers are decoded once, when the file is read, and kept as ArrayBuffers: Moddable's
 * lin module parses the "1,2,3" text on every get, which made each MQTT session save
 * (it reads both records) allocate ~100 KB and the XS heap collect 20 times a second.
 */
import { File } from "file";
import config from "mc/config";

const NAME = "modpreferences.json";
let cache;
// ArrayBuffer in the cache -> its "1,2,3" text, made once per set (not at every save).
// Made by load(): an object made at module level is read-only once preloaded.
let texts;

function load() {
	if (cache) return cache;
	cache = {};
	texts = new WeakMap();
	try {
		const path = config.file.root + NAME;
		if (File.exists(path)) {
			const f = new File(path);
			const parsed = JSON.parse(f.read(String), (key, value) =>
				(value && ("object" === typeof value) && ("string" === typeof value.buffer)) ? decode(value.buffer) : value);
			f.close();
			if (parsed && "object" === typeof parsed) cache = parsed;
		}
	} catch {
		// unreadable: start empty, as a fresh NVS partition would
	}
	return cache;
}

function decode(text) {
	const buffer = Uint8Array.from(text.split(",").filter((s) => s.length)).buffer;
	texts.set(buffer, text);
	return buffer;
}

function text(buffer) {
	let t = texts.get(buffer);
	if (undefined === t) texts.set(buffer, t = joined(new Uint8Array(buffer)));
	return t;
}

// bytes.toString() ("1,2,3") written as ASCII into one buffer and made a string once:
// the join made a string per byte, 2 slots each (a 337-byte session chunk: ~680 slots,
// half the garbage of a telemetry message on lin; bench/RESULTS.md).
function joined(bytes) {
	const out = new Uint8Array(bytes.length * 4);
	let o = 0;
	for (let i = 0; i < bytes.length; i++) {
		const b = bytes[i];
		if (i) out[o++] = 44; // ","
		if (b >= 100) out[o++] = 48 + ((b / 100) | 0);
		if (b >= 10) out[o++] = 48 + (((b / 10) | 0) % 10);
		out[o++] = 48 + (b % 10);
	}
	return String.fromArrayBuffer(out.buffer.slice(0, o));
}

function save() {
	const tmp = config.file.root + NAME + ".tmp";
	if (File.exists(tmp)) File.delete(tmp);
	const f = new File(tmp, true);
	f.write(JSON.stringify(cache, (key, value) => (value instanceof ArrayBuffer) ? { buffer: text(value) } : value));
	f.close();
	File.rename(tmp, NAME);
}

export default class Preference {
	static set(domain, key, value) {
		const c = load();
		if (value instanceof ArrayBuffer) value = value.slice(0);
		else if (("boolean" !== typeof value) && ("number" !== typeof value) && ("string" !== typeof value)) throw new Error("invalid value");
		c[domain] ??= {};
		c[domain][key] = value;
		save();
	}
	static get(domain, key) {
		const value = load()[domain]?.[key];
		if (value instanceof ArrayBuffer) return value.slice(0);
		return value;
	}
	static delete(domain, key) {
		const c = load();
		if (c[domain]?.[key] === undefined) return;
		delete c[domain][key];
		if (Object.keys(c[domain]).length === 0) delete c[domain];
		save();
	}
	static keys(domain) {
		const d = load()[domain];
		return d ? Object.keys(d) : [];
	}
}
