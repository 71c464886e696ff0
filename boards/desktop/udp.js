/*
 * mote's `embedded:io/socket/udp` for Moddable's desktop runtime: the class over
 * the natives of udp.c (see there: woken by the main loop when a datagram arrives,
 * where Moddable's lin module polls every 20 ms).
 */
class UDP extends Native("xs_moteudp_destructor") {
	constructor(options) {
		super();
		native("xs_moteudp_constructor").call(this, options);
	}
	close() {
		return native("xs_moteudp_close").call(this);
	}
	read() {
		return native("xs_moteudp_read").call(this);
	}
	write(data, address, port) {
		return native("xs_moteudp_write").call(this, data, address, port);
	}
	/** The port bound (the one the system chose for port 0). */
	get port() {
		return native("xs_moteudp_get_port").call(this);
	}
	get format() {
		return "buffer";
	}
	set format(value) {
		if ("buffer" !== value) throw new RangeError("unimplemented");
	}
}

export default UDP;
