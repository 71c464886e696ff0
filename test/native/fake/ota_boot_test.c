/*
 * Host test of native/ota-boot/ota-boot.c against fake_xs.c + fake_idf.c.
 *   ota_boot_test            behaviour scenarios; prints "ok"/"not ok" lines, exits 1 on failure
 *   ota_boot_test semver     reads "a<TAB>b" lines on stdin, prints compare results (-1/0/1/invalid)
 *   ota_boot_test sha256 N   prints the SHA-256 of N bytes of the LCG stream (see lcg_bytes)
 * Built and run by test/unit/native-ota-boot.test.ts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fake.h"
#include "nvs_flash/include/nvs.h"

void xs_otaboot_runningPartition(xsMachine *the);
void xs_otaboot_nextUpdatePartition(xsMachine *the);
void xs_otaboot_partitionState(xsMachine *the);
void xs_otaboot_setBootPartition(xsMachine *the);
void xs_otaboot_markValid(xsMachine *the);
void xs_otaboot_markInvalid(xsMachine *the);
void xs_otaboot_restart(xsMachine *the);
void xs_otaboot_floorVersion(xsMachine *the);
int mote_otaboot_semver_compare(const char *a, const char *b);
void mote_otaboot_sha256(const uint8_t *data, size_t size, uint8_t digest[32]);

static xsMachine machine, *the = &machine;
static int failures, checks;

#define CHECK(cond, ...) do { checks++; if (cond) { printf("ok - "); printf(__VA_ARGS__); printf("\n"); } \
	else { failures++; printf("not ok - "); printf(__VA_ARGS__); printf("  (%s:%d: %s)\n", __FILE__, __LINE__, #cond); } } while (0)

/* calls a host function; returns 0, or the XS error class it threw (-1: esp_restart) */
static int call(void (*fn)(xsMachine *))
{
	jmp_buf jb;
	jmp_buf *saved = fake_catch;
	int result = 0;
	fake_catch = &jb;
	fake_message[0] = 0;
	if (0 == setjmp(jb))
		fn(the);
	else
		result = fake_error;
	fake_catch = saved;
	return result;
}

static const char *result_string(void) { return (xsStringType == the->result.kind) ? the->result.string : "(not a string)"; }

static const char *call0_string(void (*fn)(xsMachine *))
{
	static char copy[320];
	fake_reset_machine(the);
	if (call(fn)) return "(threw)";
	snprintf(copy, sizeof(copy), "%s", result_string());
	return copy;
}

static const char *state_of(const char *label)
{
	static char copy[320];
	fake_reset_machine(the);
	fake_arg_string(the, 0, label);
	int e = call(xs_otaboot_partitionState);
	if (e) { snprintf(copy, sizeof(copy), "(threw %d: %s)", e, fake_message); return copy; }
	snprintf(copy, sizeof(copy), "%s", result_string());
	return copy;
}

static uint32_t lcg;
static void lcg_bytes(uint8_t *out, size_t n, uint32_t seed)
{
	size_t i;
	lcg = seed;
	for (i = 0; i < n; i++) {
		lcg = (lcg * 1103515245u + 12345u) & 0x7fffffffu;
		out[i] = (uint8_t)(lcg >> 16);
	}
}

static uint8_t image[FAKE_SLOT_SIZE];
static uint32_t imageLength;
static uint8_t imageHash[32];

static void make_image(uint32_t length, uint32_t seed)
{
	lcg_bytes(image, length, seed);
	image[0] = 0xE9;	/* ESP image magic */
	imageLength = length;
	mote_otaboot_sha256(image, length, imageHash);
}

/* setBootPartition(label, byteLength, sha256, version, minVersion|undefined) as ota-boot.js passes it */
static int set_boot(const char *label, double byteLength, const uint8_t *hash, uint32_t hashLength, const char *version, const char *minVersion)
{
	fake_reset_machine(the);
	fake_arg_string(the, 0, label);
	fake_arg_number(the, 1, byteLength);
	fake_arg_buffer(the, 2, hash, hashLength);
	fake_arg_string(the, 3, version);
	if (minVersion) fake_arg_string(the, 4, minVersion);
	else fake_arg_undefined(the, 4);
	return call(xs_otaboot_setBootPartition);
}

static int call0(void (*fn)(xsMachine *)) { fake_reset_machine(the); return call(fn); }

/* factory state: v1 in ota_0, committed by an earlier OTA (otadata copy 0 = slot 0, VALID) */
static void provision(void)
{
	fake_reset_flash();
	fake_nvs_reset();
	make_image(50000, 1);
	fake_write_image(0, image, imageLength);
	fake_set_otadata(0, 1, ESP_OTA_IMG_VALID);
	fake_boot();
}

/* writes an image into the next slot and switches to it */
static int install(uint32_t length, uint32_t seed, const char *version, const char *minVersion)
{
	int slot = 1 - fake_running;
	make_image(length, seed);
	fake_write_image(slot, image, imageLength);
	return set_boot(fake_partitions[slot].label, imageLength, imageHash, 32, version, minVersion);
}

static void scenarios(void)
{
	uint8_t bad[32];
	int e;

	/* --- queries ---------------------------------------------------------------------------- */
	provision();
	CHECK(!strcmp(call0_string(xs_otaboot_runningPartition), "ota_0"), "runningPartition is ota_0");
	CHECK(!strcmp(call0_string(xs_otaboot_nextUpdatePartition), "ota_1"), "nextUpdatePartition is ota_1");
	CHECK(!strcmp(state_of("ota_0"), "valid"), "partitionState(ota_0) valid: %s", state_of("ota_0"));
	CHECK(!strcmp(state_of("ota_1"), "empty"), "partitionState(ota_1) empty (no otadata entry): %s", state_of("ota_1"));
	CHECK(!strcmp(call0_string(xs_otaboot_floorVersion), ""), "floorVersion is \"\" with no NVS namespace");
	fake_reset_machine(the); fake_arg_string(the, 0, "otadata");
	CHECK(XS_RANGE_ERROR == call(xs_otaboot_partitionState) && strstr(fake_message, "no OTA partition"), "partitionState(otadata) throws RangeError: %s", fake_message);
	fake_reset_machine(the); fake_arg_string(the, 0, "nope");
	CHECK(XS_RANGE_ERROR == call(xs_otaboot_partitionState), "partitionState(nope) throws RangeError");
	fake_reset_machine(the); fake_arg_string(the, 0, "a_label_longer_than_16");
	CHECK(XS_RANGE_ERROR == call(xs_otaboot_partitionState), "partitionState(long label) throws RangeError");
	fake_reset_machine(the); fake_arg_number(the, 0, 1);
	CHECK(XS_TYPE_ERROR == call(xs_otaboot_partitionState), "partitionState(1) throws TypeError");
	fake_reset_machine(the); fake_arg_stringx(the, 0, "ota_0");
	CHECK(0 == call(xs_otaboot_partitionState) && !strcmp(result_string(), "valid"), "partitionState accepts a ROM string (xsStringXType)");

	/* --- state mapping (esp_ota_img_states_t -> SlotState) ---------------------------------- */
	{
		static const struct { uint32_t state; const char *name; } map[] = {
			{ ESP_OTA_IMG_NEW, "new" }, { ESP_OTA_IMG_PENDING_VERIFY, "pending-verify" }, { ESP_OTA_IMG_VALID, "valid" },
			{ ESP_OTA_IMG_INVALID, "invalid" }, { ESP_OTA_IMG_ABORTED, "invalid" }, { ESP_OTA_IMG_UNDEFINED, "empty" },
		};
		unsigned i;
		for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
			fake_set_otadata(1, 2, map[i].state);	/* copy 1, seq 2 -> slot ota_1 */
			CHECK(!strcmp(state_of("ota_1"), map[i].name), "state 0x%x maps to %s (got %s)", (unsigned)map[i].state, map[i].name, state_of("ota_1"));
		}
		fake_reset_flash();	/* no otadata at all: serial-flashed device */
		CHECK(!strcmp(state_of("ota_0"), "empty"), "no otadata: partitionState(ota_0) empty");
	}

	/* --- setBootPartition argument checks: nothing switched ---------------------------------- */
	provision();
	make_image(150000, 2);
	fake_write_image(1, image, imageLength);
	CHECK(XS_TYPE_ERROR == call0(xs_otaboot_setBootPartition), "setBootPartition() without arguments throws TypeError");
	CHECK(XS_RANGE_ERROR == set_boot("ota_1", 0, imageHash, 32, "2.0.0", NULL), "byteLength 0 throws RangeError");
	CHECK(XS_RANGE_ERROR == set_boot("ota_1", 1.5, imageHash, 32, "2.0.0", NULL), "byteLength 1.5 throws RangeError");
	CHECK(XS_RANGE_ERROR == set_boot("ota_1", FAKE_SLOT_SIZE + 1, imageHash, 32, "2.0.0", NULL), "byteLength beyond the slot throws RangeError");
	CHECK(XS_RANGE_ERROR == set_boot("ota_1", -5, imageHash, 32, "2.0.0", NULL), "negative byteLength throws RangeError");
	CHECK(XS_RANGE_ERROR == set_boot("ota_1", 1e20, imageHash, 32, "2.0.0", NULL), "byteLength 1e20 throws RangeError");
	CHECK(XS_RANGE_ERROR == set_boot("ota_1", 0.0 / 0.0, imageHash, 32, "2.0.0", NULL), "byteLength NaN throws RangeError");
	CHECK(XS_RANGE_ERROR == set_boot("ota_1", imageLength, imageHash, 31, "2.0.0", NULL), "31-byte sha256 throws RangeError");
	CHECK(XS_RANGE_ERROR == set_boot("ota_1", imageLength, imageHash, 32, "1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL), "33-byte version throws RangeError");
	CHECK(XS_RANGE_ERROR == set_boot("ota_1", imageLength, imageHash, 32, "2.0.0", "1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "33-byte minVersion throws RangeError");
	CHECK(XS_RANGE_ERROR == set_boot("otadata", imageLength, imageHash, 32, "2.0.0", NULL), "a data partition throws RangeError");
	CHECK(XS_UNKNOWN_ERROR == set_boot("ota_0", imageLength, imageHash, 32, "2.0.0", NULL) && strstr(fake_message, "running"), "the running partition is refused: %s", fake_message);
	fake_reset_machine(the);
	fake_arg_string(the, 0, "ota_1"); fake_arg_string(the, 1, "150000"); fake_arg_buffer(the, 2, imageHash, 32); fake_arg_string(the, 3, "2.0.0");
	CHECK(XS_TYPE_ERROR == call(xs_otaboot_setBootPartition), "byteLength as a string throws TypeError");
	fake_reset_machine(the);
	fake_arg_string(the, 0, "ota_1"); fake_arg_number(the, 1, imageLength); fake_arg_string(the, 2, "hash"); fake_arg_string(the, 3, "2.0.0");
	CHECK(XS_TYPE_ERROR == call(xs_otaboot_setBootPartition), "sha256 as a string throws TypeError");
	fake_reset_machine(the);
	fake_arg_string(the, 0, "ota_1"); fake_arg_number(the, 1, imageLength); fake_arg_buffer(the, 2, imageHash, 32); fake_arg_number(the, 3, 2);
	CHECK(XS_TYPE_ERROR == call(xs_otaboot_setBootPartition), "version as a number throws TypeError");

	/* --- hash mismatch ------------------------------------------------------------------------ */
	memcpy(bad, imageHash, 32);
	bad[31] ^= 1;
	fake_wdt_resets = fake_delays = fake_max_read = 0;
	e = set_boot("ota_1", imageLength, bad, 32, "2.0.0", "1.5.0");
	CHECK(XS_UNKNOWN_ERROR == e && strstr(fake_message, "sha256"), "a flipped digest bit throws: %s", fake_message);
	CHECK(XS_UNKNOWN_ERROR == set_boot("ota_1", imageLength - 1, imageHash, 32, "2.0.0", "1.5.0"), "one byte short throws (hash over byteLength bytes)");
	CHECK(esp_ota_get_boot_partition() == &fake_partitions[0], "after the mismatches the boot partition is still ota_0");
	CHECK(!strcmp(state_of("ota_1"), "empty"), "ota_1 still empty");
	CHECK(NULL == fake_nvs_get("mote_ota", "v1"), "nothing stored in NVS");
	CHECK(0 == fake_live_allocs, "the chunk buffer is freed on the error path");
	fake_fail_read_at = 70000;
	e = set_boot("ota_1", imageLength, imageHash, 32, "2.0.0", "1.5.0");
	CHECK(XS_UNKNOWN_ERROR == e && strstr(fake_message, "esp_partition_read"), "a flash read error throws: %s", fake_message);
	CHECK(0 == fake_live_allocs, "the chunk buffer is freed after a read error");
	fake_fail_read_at = -1;

	/* --- switch, first boot, commit, floor -------------------------------------------------- */
	fake_wdt_resets = fake_delays = fake_max_read = 0;
	e = set_boot("ota_1", imageLength, imageHash, 32, "2.0.0", "1.5.0");
	CHECK(0 == e, "setBootPartition(ota_1, 150000 bytes, right digest) succeeds %s", fake_message);
	CHECK(fake_max_read <= 4096 && fake_max_read > 0, "slot read in chunks of at most 4096 bytes (max %u)", fake_max_read);
	CHECK(fake_wdt_resets >= (150000 + 4095) / 4096, "watchdog fed once per chunk (%u)", fake_wdt_resets);
	CHECK(fake_delays >= 2, "scheduler given a tick every 64 KB (%u)", fake_delays);
	CHECK(0 == fake_live_allocs, "no allocation left behind");
	CHECK(!strcmp(state_of("ota_1"), "new"), "ota_1 is new: %s", state_of("ota_1"));
	CHECK(esp_ota_get_boot_partition() == &fake_partitions[1], "ota_1 boots next");
	CHECK(fake_nvs_get("mote_ota", "v1") && !strcmp(fake_nvs_get("mote_ota", "v1"), "2.0.0"), "version stored as v1");
	CHECK(fake_nvs_get("mote_ota", "m1") && !strcmp(fake_nvs_get("mote_ota", "m1"), "1.5.0"), "minVersion stored as m1");
	CHECK(0 == call0(xs_otaboot_markValid), "markValid while a switch is pending does not throw");
	CHECK(!strcmp(state_of("ota_1"), "new") && !strcmp(state_of("ota_0"), "valid"), "... and changes nothing (twin: the running image is already trusted)");
	CHECK(!strcmp(call0_string(xs_otaboot_floorVersion), ""), "... floor unchanged");
	CHECK(0 == call0(xs_otaboot_markInvalid), "markInvalid while a switch is pending does not throw");
	CHECK(!strcmp(state_of("ota_1"), "new") && !strcmp(state_of("ota_0"), "valid"), "... and changes nothing");

	CHECK(1 == fake_boot(), "reboot: the bootloader runs ota_1");
	CHECK(!strcmp(call0_string(xs_otaboot_runningPartition), "ota_1"), "runningPartition is ota_1");
	CHECK(!strcmp(call0_string(xs_otaboot_nextUpdatePartition), "ota_0"), "nextUpdatePartition is ota_0");
	CHECK(!strcmp(state_of("ota_1"), "pending-verify"), "ota_1 is pending-verify");
	CHECK(0 == call0(xs_otaboot_markValid), "markValid succeeds");
	CHECK(!strcmp(state_of("ota_1"), "valid"), "ota_1 is valid");
	CHECK(!strcmp(call0_string(xs_otaboot_floorVersion), "1.5.0"), "floor raised to minVersion 1.5.0: %s", call0_string(xs_otaboot_floorVersion));
	CHECK(NULL == fake_nvs_get("mote_ota", "m1"), "the slot's minVersion is consumed");
	CHECK(0 == call0(xs_otaboot_markValid), "markValid again is a no-op");
	CHECK(1 == fake_boot() && !strcmp(state_of("ota_1"), "valid"), "a committed image keeps booting");

	/* floor = max(floor, minVersion) by semver precedence */
	CHECK(0 == install(30000, 3, "2.1.0", "1.2.0") && 0 == fake_boot() && 0 == call0(xs_otaboot_markValid), "2.1.0 (minVersion 1.2.0) installed and committed");
	CHECK(!strcmp(call0_string(xs_otaboot_floorVersion), "1.5.0"), "a lower minVersion leaves the floor at 1.5.0");
	CHECK(0 == install(30000, 4, "2.2.0", "1.10.0") && 1 == fake_boot() && 0 == call0(xs_otaboot_markValid), "2.2.0 (minVersion 1.10.0) committed");
	CHECK(!strcmp(call0_string(xs_otaboot_floorVersion), "1.10.0"), "1.10.0 > 1.5.0 numerically: %s", call0_string(xs_otaboot_floorVersion));
	CHECK(0 == install(30000, 5, "3.0.0-rc.2", "3.0.0-rc.1") && 0 == fake_boot() && 0 == call0(xs_otaboot_markValid), "3.0.0-rc.2 committed");
	CHECK(!strcmp(call0_string(xs_otaboot_floorVersion), "3.0.0-rc.1"), "floor 3.0.0-rc.1");
	CHECK(0 == install(30000, 6, "3.0.0", "3.0.0-beta") && 1 == fake_boot() && 0 == call0(xs_otaboot_markValid), "3.0.0 (minVersion 3.0.0-beta) committed");
	CHECK(!strcmp(call0_string(xs_otaboot_floorVersion), "3.0.0-rc.1"), "beta < rc.1: floor stays");
	CHECK(0 == install(30000, 7, "3.0.1", NULL) && 0 == fake_boot() && 0 == call0(xs_otaboot_markValid), "3.0.1 without minVersion committed");
	CHECK(!strcmp(call0_string(xs_otaboot_floorVersion), "3.0.0-rc.1"), "no minVersion: floor stays");
	CHECK(NULL == fake_nvs_get("mote_ota", "m0"), "no minVersion: no m0 key");

	/* --- health check failed: markInvalid without reboot, then the previous image ------------- */
	CHECK(0 == fake_running, "running ota_0 (3.0.1, valid)");
	CHECK(0 == install(40000, 8, "4.0.0", "4.0.0") && 1 == fake_boot(), "4.0.0 (minVersion 4.0.0) boots pending");
	CHECK(!strcmp(state_of("ota_1"), "pending-verify"), "ota_1 pending-verify");
	fake_restarts = 0;
	CHECK(0 == call0(xs_otaboot_markInvalid), "markInvalid succeeds");
	CHECK(0 == fake_restarts, "markInvalid does not restart");
	CHECK(!strcmp(state_of("ota_1"), "invalid"), "ota_1 is invalid: %s", state_of("ota_1"));
	CHECK(!strcmp(state_of("ota_0"), "valid"), "ota_0 is still valid");
	CHECK(esp_ota_get_boot_partition() == &fake_partitions[0], "ota_0 boots next");
	CHECK(NULL == fake_nvs_get("mote_ota", "m1"), "the rejected image's minVersion is dropped");
	CHECK(0 == call0(xs_otaboot_markInvalid), "markInvalid again is a no-op");
	CHECK(-1 == call0(xs_otaboot_restart) && 1 == fake_restarts, "restart() calls esp_restart()");
	CHECK(0 == fake_boot(), "reboot: back on ota_0");
	CHECK(!strcmp(state_of("ota_0"), "valid"), "ota_0 boots as valid (not new: no second health check)");
	CHECK(!strcmp(state_of("ota_1"), "invalid"), "ota_1 stays invalid");
	CHECK(0 == call0(xs_otaboot_markValid), "markValid on the valid image is a no-op");
	CHECK(!strcmp(call0_string(xs_otaboot_floorVersion), "3.0.0-rc.1"), "the floor never saw 4.0.0");

	/* --- crash before the health check: the bootloader aborts the pending image ------------- */
	CHECK(0 == install(40000, 9, "4.0.1", "4.0.0") && 1 == fake_boot(), "4.0.1 boots pending");
	CHECK(0 == fake_boot(), "reboot without markValid: the bootloader returns to ota_0");
	CHECK(!strcmp(state_of("ota_1"), "invalid"), "ota_1 aborted -> invalid");
	CHECK(!strcmp(state_of("ota_0"), "valid"), "ota_0 valid");

	/* --- an update installed while the running image is still pending ---------------------- */
	CHECK(0 == install(40000, 13, "4.0.2", "4.0.2") && 1 == fake_boot(), "4.0.2 boots pending");
	CHECK(0 == install(40000, 14, "4.0.3", "4.0.3") && !strcmp(state_of("ota_0"), "new"), "4.0.3 switched to while 4.0.2 is pending");
	CHECK(0 == call0(xs_otaboot_markValid), "markValid with the switch pending does not throw");
	CHECK(!strcmp(state_of("ota_0"), "new"), "... and does not mark the switched-to image valid: %s", state_of("ota_0"));
	CHECK(!strcmp(call0_string(xs_otaboot_floorVersion), "3.0.0-rc.1"), "... nor raise the floor");
	CHECK(0 == call0(xs_otaboot_markInvalid) && !strcmp(state_of("ota_0"), "new"), "markInvalid with the switch pending leaves the switched-to image alone");
	CHECK(0 == fake_boot() && !strcmp(state_of("ota_0"), "pending-verify"), "the next boot tries 4.0.3");

	/* --- rollback impossible ------------------------------------------------------------- */
	provision();		/* v1 valid in ota_0, ota_1 erased */
	e = call0(xs_otaboot_markInvalid);
	CHECK(XS_UNKNOWN_ERROR == e && strstr(fake_message, "ESP_ERR_OTA_ROLLBACK_FAILED"), "markInvalid with no other image throws: %s", fake_message);
	CHECK(!strcmp(state_of("ota_0"), "valid"), "... and leaves the running image valid");

	/* --- serial-flashed device (blank otadata) --------------------------------------------- */
	fake_reset_flash();
	fake_nvs_reset();
	make_image(50000, 10);
	fake_write_image(0, image, imageLength);
	fake_boot();
	CHECK(!strcmp(state_of("ota_0"), "empty"), "blank otadata: ota_0 empty");
	CHECK(0 == call0(xs_otaboot_markValid), "blank otadata: markValid is a no-op");
	CHECK(XS_UNKNOWN_ERROR == call0(xs_otaboot_markInvalid), "blank otadata: markInvalid throws (%s)", fake_message);
	CHECK(0 == install(60000, 11, "1.1.0", "1.0.0") && !strcmp(state_of("ota_1"), "new"), "the first OTA from a blank otadata works");
	CHECK(1 == fake_boot() && 0 == call0(xs_otaboot_markValid) && !strcmp(call0_string(xs_otaboot_floorVersion), "1.0.0"), "and commits with its floor");

	/* --- rollback disabled in the build: states stay UNDEFINED ------------------------------ */
	provision();
	fake_rollback_enabled = false;
	CHECK(0 == install(30000, 12, "2.0.0", "2.0.0") && !strcmp(state_of("ota_1"), "empty"), "no rollback: the switched slot is UNDEFINED (empty)");
	CHECK(1 == fake_boot() && 0 == call0(xs_otaboot_markValid), "markValid on UNDEFINED succeeds");
	CHECK(!strcmp(state_of("ota_1"), "valid") && !strcmp(call0_string(xs_otaboot_floorVersion), "2.0.0"), "... marks valid and raises the floor");
	fake_rollback_enabled = true;
}

static int semver_mode(void)
{
	char line[512];
	while (fgets(line, sizeof(line), stdin)) {
		char *tab = strchr(line, '\t'), *end;
		if (!tab) continue;
		*tab = 0;
		end = strchr(tab + 1, '\n');
		if (end) *end = 0;
		int c = mote_otaboot_semver_compare(line, tab + 1);
		if (2 == c) printf("invalid\n");
		else printf("%d\n", c);
	}
	return 0;
}

static int sha_mode(size_t n)
{
	uint8_t *data = malloc(n ? n : 1), digest[32];
	int i;
	lcg_bytes(data, n, 12345);
	mote_otaboot_sha256(data, n, digest);
	for (i = 0; i < 32; i++) printf("%02x", digest[i]);
	printf("\n");
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc > 1) && !strcmp(argv[1], "semver")) return semver_mode();
	if ((argc > 2) && !strcmp(argv[1], "sha256")) return sha_mode((size_t)strtoul(argv[2], NULL, 10));
	scenarios();
	fake_reset_machine(the);
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
