/*
 * `embedded:network/interface/wifi` for Moddable's desktop targets, which have no such
 * module (examples/manifest_net.json gives lin/mac/win only the legacy `wifi`). It keeps
 * the rules of the ESP32 module ($MODDABLE/modules/io/wifi/esp32/wifi-esp32.c), so the
 * device program takes the same path as on the board:
 * - one radio, many objects: each object hears every station event, keeps its own
 *   connecting/connected/address flags and calls onChanged("connection") only when its
 *   `connection` (200 disconnected, 300 connecting, 400 associated, 500 with an address)
 *   changed, onChanged("address") when it first has an address;
 * - connect() is one attempt, never retried; "already connecting" while one is pending;
 *   a failed join falls back to 200 with no reason; scan() lists what is on the air.
 * The air: with no "mote-wifi.json" under config.file.root the station is always in
 * range: any SSID joins with any password. A test drives it with that file, read at
 * every connect and scan and once a second while associated:
 * [{"ssid": "home", "password": "secret", "rssi": -50}, ...] lists the networks in range
 * (an SSID not listed is out of range, a wrong password fails the join, and a network
 * that leaves the list while associated is a lost link: 500 -> 200). The address is 127.0.0.1 (the desktop's sockets are the host's);
 * there is no MAC (mote then keeps a random device id).
 * Nothing runs at module level (mote preloads it); state lives in an object made on
 * first use and kept in a `let` (objects made at module level are read-only once preloaded).
 */
import Timer from "timer";
import { File } from "file";
import config from "mc/config";

const NETWORKS = "mote-wifi.json";
const DELAY_MS = 5;
const MAX_OBJECTS = 16;
const ADDRESS = "127.0.0.1";
const BSSID = "02:00:00:00:00:01";
const CHANNEL = 6;
const WATCH_MS = 1000;

let radio;

function air() {
	if (!radio)
		radio = { objects: [], up: false, online: false, ssid: "", password: "", rssi: 0, generation: 0, scanner: undefined, asked: undefined, watch: undefined };
	return radio;
}

// The networks in range, or undefined: always in range.
// The file's path, made at the first look: the watch below looks every second, and a
// string made per look was garbage the chip's radio does not make.
let networksPath;

function networks() {
	try {
		const path = networksPath ??= config.file.root + NETWORKS;
		if (!File.exists(path))
			return undefined;
		const f = new File(path);
		const list = JSON.parse(f.read(String));
		f.close();
		return Array.isArray(list) ? list : [];
	}
	catch {
		return [];
	}
}

// Without mote-wifi.json every network is in range: the same answer each second, made once.
let inRange;

function find(ssid, password) {
	const list = networks();
	if (undefined === list) {
		if ((inRange?.ssid !== ssid) || (inRange?.password !== password))
			inRange = { ssid, password, rssi: -50 };
		return inRange;
	}
	for (const n of list) {
		if (n && (n.ssid === ssid))
			return n;
	}
}

function broadcast(event) {
	for (const o of air().objects.slice())
		o.deliver(event);
}

function leave() {
	const r = air();
	const was = r.up;
	r.up = false;
	r.online = false;
	r.generation += 1;
	if (r.watch) {
		Timer.clear(r.watch);
		r.watch = undefined;
	}
	return was;
}

// While associated: the network leaving mote-wifi.json (or its password changing) is the
// access point vanishing, as beacons lost on the chip.
function watch() {
	const r = air();
	r.watch = Timer.repeat(() => {
		const n = find(r.ssid, r.password);
		if (r.up && (!n || ((n.password ?? "") !== r.password))) {
			if (leave())
				broadcast("disconnected");
		}
		else if (n)
			r.rssi = n.rssi ?? r.rssi;
	}, WATCH_MS);
}

class WiFi {
	#onChanged;
	#connecting = false;
	#connected = false;
	#ip = false;
	#closed = false;
	#scan;

	constructor(options) {
		const onChanged = options?.onChanged;
		if ((undefined !== onChanged) && (null !== onChanged) && ("function" !== typeof onChanged))
			throw new Error("not a function");
		const r = air();
		if (r.objects.length >= MAX_OBJECTS)
			throw new Error("no memory");
		this.#onChanged = onChanged ?? undefined;
		this.#connected = r.up;
		this.#ip = r.online;
		r.objects.push(this);
	}
	deliver(event) {
		if (this.#closed)
			return;
		const before = this.connection, hadIP = this.#ip;
		if ("associated" === event) {
			this.#connecting = false;
			this.#connected = true;
			this.#ip = false;
		}
		else if ("disconnected" === event) {
			this.#connecting = false;
			this.#connected = false;
			this.#ip = false;
		}
		else {
			this.#connected = true;
			this.#ip = true;
		}
		if (before !== this.connection)
			this.#onChanged?.call(this, "connection");
		if (!hadIP && this.#ip && !this.#closed)
			this.#onChanged?.call(this, "address");
	}
	connect(options) {
		this.#check();
		if (this.#connecting)
			throw new Error("already connecting");
		if (!options || (undefined === options.SSID))
			throw new Error("SSID required");
		const ssid = String(options.SSID).slice(0, 32);
		const password = (undefined === options.password) ? "" : String(options.password).slice(0, 64);
		if (leave())
			broadcast("disconnected");
		const r = air();
		const generation = r.generation;
		r.asked = { ssid, secure: password.length > 0 };
		this.#connecting = true;
		Timer.set(() => {
			if (generation !== r.generation)
				return;
			const n = find(ssid, password);
			if (!n || ((n.password ?? "") !== password))
				return broadcast("disconnected");
			r.up = true;
			r.ssid = ssid;
			r.password = password;
			r.rssi = n.rssi ?? -50;
			watch();
			broadcast("associated");
			Timer.set(() => {
				if ((generation !== r.generation) || !r.up)
					return;
				r.online = true;
				broadcast("got-ip");
			}, DELAY_MS);
		}, DELAY_MS);
	}
	disconnect() {
		this.#check();
		const joining = this.#connecting;
		this.#connecting = false;
		this.#connected = false;
		this.#ip = false;
		if (leave() || joining)
			broadcast("disconnected");
	}
	scan(options) {
		this.#check();
		const r = air();
		if (r.scanner)
			throw new Error("already scanning");
		if (!options || ("function" !== typeof options.onFound))
			throw new Error("onFound required");
		this.#scan = options;
		r.scanner = this;
		Timer.set(() => {
			if (r.scanner === this)
				r.scanner = undefined;
			const scan = this.#scan;
			this.#scan = undefined;
			if (!scan || this.#closed)
				return;
			let list = networks();
			if (undefined === list)
				list = r.asked ? [{ ssid: r.asked.ssid, password: r.asked.secure ? "*" : "", rssi: -50 }] : [];
			for (const n of list) {
				try {
					scan.onFound.call(this, { SSID: String(n.ssid), BSSID, RSSI: n.rssi ?? -50, channel: CHANNEL, security: n.password ? "wpa2_psk" : "none" });
				}
				catch {
				}
			}
			scan.onComplete?.call(this);
		}, DELAY_MS);
	}
	configure(options) {
		this.#check();
	}
	close() {
		if (this.#closed)
			return;
		this.#closed = true;
		this.#onChanged = undefined;
		this.#scan = undefined;
		const r = air();
		if (r.scanner === this)
			r.scanner = undefined;
		const i = r.objects.indexOf(this);
		if (i >= 0)
			r.objects.splice(i, 1);
	}
	get connection() {
		if (this.#connected && this.#ip)
			return 500;
		if (this.#connected)
			return 400;
		if (this.#connecting)
			return 300;
		return 200;
	}
	get address() {
		this.#check();
		return air().online ? ADDRESS : undefined;
	}
	get MAC() {
		this.#check();
		return undefined;
	}
	get SSID() {
		this.#check();
		return air().up ? air().ssid : undefined;
	}
	get BSSID() {
		this.#check();
		return air().up ? BSSID : undefined;
	}
	get RSSI() {
		this.#check();
		return air().up ? air().rssi : undefined;
	}
	get channel() {
		this.#check();
		return air().up ? CHANNEL : undefined;
	}
	#check() {
		if (this.#closed)
			throw new Error("closed");
	}
}

export default WiFi;
