/*
 * setup/network for mote's ESP32 builds (boards/setup/manifest.json): it takes the name
 * of Moddable's build/devices/esp32/setup/network.js, which would join WiFi and wait for
 * SNTP before main runs. mote joins WiFi and sets the clock under its own supervisor,
 * with backoff and reasons, so the boot goes on at once.
 */
export default function (done) {
	done();
}
