/*
 * `preference` for Moddable's desktop targets, preload-safe. Moddable's own lin module
 * reads its file in a static initializer, which runs at build time once a preloaded
 * module (mote) imports it; this one reads "modpreferences.json" under config.file.root
 * (the same file and format) at the first call, and writes it whole to a temporary
 * file renamed over the old one, so a kill mid-write leaves the previous contents.
 * Values: boolean, number, string, ArrayBuffer (stored as {"buffer": "1,2,3"}).
 */
import { File } from "file";
import config from "mc/config";

const NAME = "modpreferences.json";
let cache;

function load() {
	if (cache) return cache;
	cache = {};
	try {
		const path = config.file.root + NAME;
		if (File.exists(path)) {
			const f = new File(path);
			const parsed = JSON.parse(f.read(String));
			f.close();
			if (parsed && "object" === typeof parsed) cache = parsed;
		}
	} catch {
		// unreadable: start empty, as a fresh NVS partition would
	}
	return cache;
}

function save() {
	const tmp = config.file.root + NAME + ".tmp";
	if (File.exists(tmp)) File.delete(tmp);
	const f = new File(tmp, true);
	f.write(JSON.stringify(cache));
	f.close();
	File.rename(tmp, NAME);
}

export default class Preference {
	static set(domain, key, value) {
		const c = load();
		if (value instanceof ArrayBuffer) value = { buffer: new Uint8Array(value).toString() };
		else if (("boolean" !== typeof value) && ("number" !== typeof value) && ("string" !== typeof value)) throw new Error("invalid value");
		c[domain] ??= {};
		c[domain][key] = value;
		save();
	}
	static get(domain, key) {
		const value = load()[domain]?.[key];
		if (value && ("object" === typeof value)) return Uint8Array.from(value.buffer.split(",").filter((s) => s.length)).buffer;
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
