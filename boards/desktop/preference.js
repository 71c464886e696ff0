/*
 * `preference` for Moddable's desktop targets, preload-safe. Moddable's own lin module
 * reads its file in a static initializer, which runs at build time once a preloaded
 * module (mote) imports it; this one reads its files under config.file.root at the first
 * call. Each write goes to a temporary file renamed over the old one, so a kill
 * mid-write leaves the previous contents, as a power cut leaves an NVS entry.
 *
 * Values: boolean, number and string are kept in "modpreferences.json" (Moddable's lin
 * file and format), read once and written whole when one of them changes. An ArrayBuffer
 * is a file of its own, "modpreferences.<domain>.<key>" (names escaped), written when it
 * is set and read when it is got, and not kept in the heap: on the ESP32 these are NVS
 * blobs, which cost the XS heap nothing between a set and a get. The simulator reports
 * this heap as the chip's (issue 17), and MQTT session records are buffers set several
 * times a second during an outage. Kept in the JSON file as "1,2,3" text, as Moddable's
 * lin module keeps them, each set made the text of every buffer again (four times its
 * size) or kept it all live, and the XS heap grew by tens of KB through an outage.
 * A buffer written as {"buffer": "1,2,3"} by Moddable's module, or by an earlier version
 * of this one, is still read; setting or deleting it moves it to its own file.
 */
import { File, Iterator } from "file";
import config from "mc/config";

const NAME = "modpreferences.json";
const PREFIX = "modpreferences.";
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

/** The name of a buffer's file: domain and key escaped, so that "." (the separator) and "/" cannot occur in them. */
function fileOf(domain, key) {
	return PREFIX + escape(domain) + "." + escape(key);
}

function escape(name) {
	return encodeURIComponent(name).replaceAll(".", "%2E").replaceAll("*", "%2A");
}

/** Writes `items` (File.write's arguments) to `name` under the root through a temporary file. */
function replace(name, ...items) {
	const tmp = config.file.root + name + ".tmp";
	if (File.exists(tmp)) File.delete(tmp);
	const f = new File(tmp, true);
	f.write(...items);
	f.close();
	File.rename(tmp, name);
}

function saveJson() {
	replace(NAME, JSON.stringify(cache));
}

function dropJson(domain, key) {
	const c = load();
	if (c[domain]?.[key] === undefined) return false;
	delete c[domain][key];
	if (Object.keys(c[domain]).length === 0) delete c[domain];
	return true;
}

export default class Preference {
	static set(domain, key, value) {
		if (value instanceof ArrayBuffer) {
			replace(fileOf(domain, key), value);
			if (dropJson(domain, key)) saveJson(); // a scalar (or an old "1,2,3" buffer) under the same key
			return;
		}
		if (("boolean" !== typeof value) && ("number" !== typeof value) && ("string" !== typeof value)) throw new Error("invalid value");
		const path = config.file.root + fileOf(domain, key);
		if (File.exists(path)) File.delete(path);
		const c = load();
		c[domain] ??= {};
		c[domain][key] = value;
		saveJson();
	}
	static get(domain, key) {
		const value = load()[domain]?.[key];
		if (value && ("object" === typeof value)) return ("string" === typeof value.buffer) ? Uint8Array.from(value.buffer.split(",").filter((s) => s.length)).buffer : undefined;
		if (undefined !== value) return value;
		const path = config.file.root + fileOf(domain, key);
		if (!File.exists(path)) return undefined;
		const f = new File(path);
		const bytes = f.read(ArrayBuffer);
		f.close();
		return bytes;
	}
	static delete(domain, key) {
		const path = config.file.root + fileOf(domain, key);
		if (File.exists(path)) File.delete(path);
		if (dropJson(domain, key)) saveJson();
	}
	static keys(domain) {
		const d = load()[domain];
		const keys = d ? Object.keys(d) : [];
		const start = PREFIX + escape(domain) + ".";
		for (const entry of new Iterator(config.file.root)) {
			const name = entry.name;
			if ((undefined !== entry.length) && name.startsWith(start) && !name.endsWith(".tmp")) keys.push(decodeURIComponent(name.slice(start.length)));
		}
		return keys;
	}
}
