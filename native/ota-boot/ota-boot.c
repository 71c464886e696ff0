/*
 * mote/ota-boot — ESP-IDF app rollback for JavaScript (Moddable SDK, ESP32).
 *
 * JavaScript contract: src/platform/ota-boot.d.ts; specification: docs/ota.md,
 * "Native module `mote/ota-boot`"; behavioural twin used by the simulator:
 * host-shim/node/ota.ts (runningPartition ... floorVersion). The JS half is
 * ota-boot.js next to this file (host function declarations + frozen object).
 *
 * ESP-IDF calls (components/app_update/include/esp_ota_ops.h):
 *   runningPartition()    esp_ota_get_running_partition()->label
 *   nextUpdatePartition() esp_ota_get_next_update_partition(NULL)->label
 *   partitionState(l)     esp_ota_get_state_partition() mapped to the SlotState strings
 *   setBootPartition(..)  SHA-256 of the first byteLength bytes of the slot (4 KB chunks,
 *                         watchdog fed, the scheduler given a tick every 64 KB), compared
 *                         with the expected digest; version/minVersion into NVS; then
 *                         esp_ota_set_boot_partition()
 *   markValid()           floor <- max(floor, minVersion of the running slot) in NVS, then
 *                         esp_ota_mark_app_valid_cancel_rollback()
 *   markInvalid()         esp_ota_mark_app_invalid_rollback() (ESP-IDF >= 5.5: the documented
 *                         "roll back without reboot"); on older ESP-IDF the same otadata
 *                         update done here through the public bootloader_support API
 *                         (see otaboot_mark_invalid_no_reboot)
 *   restart()             esp_restart()
 *   floorVersion()        the NVS floor, "" when none
 *
 * NVS (namespace "mote_ota", keys <= 15 chars):
 *   "floor"  string  anti-rollback floor (semver), absent = none
 *   "v<n>"   string  version of the image setBootPartition() accepted for OTA slot n (ota_<n>)
 *   "m<n>"   string  its minVersion; absent when none; consumed (erased) by markValid()
 *                    and markInvalid() of that slot
 *
 * SHA-256 is computed by a small software implementation in this file rather than
 * mbedtls: Moddable compiles module C files with its own flags (make.esp32.mk), which do
 * not carry ESP-IDF's MBEDTLS_CONFIG_FILE, so sizeof(mbedtls_sha256_context) seen here
 * could differ from the hardware-accelerated (MBEDTLS_SHA256_ALT) library that is linked.
 * Software SHA-256 is ~100 ms per MB on a 240 MHz ESP32, run once per update.
 */

#include "xsPlatform.h"
#include "xsmc.h"
#include "xsHost.h"

#include <string.h>
#include <stdint.h>
#include <stdbool.h>

#include "esp_err.h"
#include "esp_system.h"
#include "esp_partition.h"
#include "esp_idf_version.h"
#include "app_update/include/esp_ota_ops.h"
#include "nvs_flash/include/nvs.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_task_wdt.h"		// modWatchDogReset() is esp_task_wdt_reset() when CONFIG_ESP_TASK_WDT_EN (xsHost.h); the boards enable it

/*
 * esp_ota_mark_app_invalid_rollback() (mark invalid, no reboot) is public API from
 * ESP-IDF v5.5 (espressif/esp-idf PR #15030). Override with
 * -DMOTE_OTA_BOOT_IDF_INVALID_ROLLBACK=0/1 if a patched IDF says otherwise.
 */
#ifndef MOTE_OTA_BOOT_IDF_INVALID_ROLLBACK
	#if defined(ESP_IDF_VERSION) && defined(ESP_IDF_VERSION_VAL) && (ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 5, 0))
		#define MOTE_OTA_BOOT_IDF_INVALID_ROLLBACK 1
	#else
		#define MOTE_OTA_BOOT_IDF_INVALID_ROLLBACK 0
	#endif
#endif

#if !MOTE_OTA_BOOT_IDF_INVALID_ROLLBACK
	#include "esp_flash_partitions.h"	// esp_ota_select_entry_t (bootloader_support/include)
	#include "bootloader_common.h"		// bootloader_common_get_active_otadata, _ota_select_crc
#endif

#define kNamespace "mote_ota"
#define kFloorKey "floor"
#define kVersionBytes 32				// versions kept as in the boot record: at most 32 bytes
#define kLabelBytes 16					// esp_partition_t.label is char[17]
#define kHashChunk 4096					// bounded read buffer (heap)
#define kYieldEvery 16					// chunks between scheduler ticks (64 KB)
#define kOtadataSector 0x1000			// each otadata copy occupies one 4 KB flash sector

/* ---------------------------------------------------------------------------------------
 * SHA-256 (FIPS 180-4), small and self-contained
 */

typedef struct {
	uint32_t state[8];
	uint64_t length;		// bytes hashed
	uint8_t block[64];
	uint32_t used;			// bytes in block
} otaboot_sha256;

static const uint32_t gSHA256K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void otaboot_sha256_block(otaboot_sha256 *s, const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = ((uint32_t)p[i * 4] << 24) | ((uint32_t)p[i * 4 + 1] << 16) | ((uint32_t)p[i * 4 + 2] << 8) | (uint32_t)p[i * 4 + 3];
	for (i = 16; i < 64; i++) {
		uint32_t s0 = ROR32(w[i - 15], 7) ^ ROR32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR32(w[i - 2], 17) ^ ROR32(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = s->state[0]; b = s->state[1]; c = s->state[2]; d = s->state[3];
	e = s->state[4]; f = s->state[5]; g = s->state[6]; h = s->state[7];
	for (i = 0; i < 64; i++) {
		t1 = h + (ROR32(e, 6) ^ ROR32(e, 11) ^ ROR32(e, 25)) + ((e & f) ^ (~e & g)) + gSHA256K[i] + w[i];
		t2 = (ROR32(a, 2) ^ ROR32(a, 13) ^ ROR32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		h = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	s->state[0] += a; s->state[1] += b; s->state[2] += c; s->state[3] += d;
	s->state[4] += e; s->state[5] += f; s->state[6] += g; s->state[7] += h;
}

static void otaboot_sha256_start(otaboot_sha256 *s)
{
	static const uint32_t init[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
	};
	memcpy(s->state, init, sizeof(init));
	s->length = 0;
	s->used = 0;
}

static void otaboot_sha256_update(otaboot_sha256 *s, const uint8_t *data, size_t size)
{
	s->length += size;
	while (size) {
		if ((0 == s->used) && (size >= 64)) {
			otaboot_sha256_block(s, data);
			data += 64;
			size -= 64;
			continue;
		}
		uint32_t n = 64 - s->used;
		if (n > size) n = (uint32_t)size;
		memcpy(s->block + s->used, data, n);
		s->used += n;
		data += n;
		size -= n;
		if (64 == s->used) {
			otaboot_sha256_block(s, s->block);
			s->used = 0;
		}
	}
}

static void otaboot_sha256_finish(otaboot_sha256 *s, uint8_t digest[32])
{
	uint64_t bits = s->length * 8;
	uint8_t pad = 0x80;
	uint8_t zero = 0;
	uint8_t len[8];
	int i;

	otaboot_sha256_update(s, &pad, 1);
	while (56 != s->used)
		otaboot_sha256_update(s, &zero, 1);
	for (i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	otaboot_sha256_update(s, len, 8);
	for (i = 0; i < 8; i++) {
		digest[i * 4] = (uint8_t)(s->state[i] >> 24);
		digest[i * 4 + 1] = (uint8_t)(s->state[i] >> 16);
		digest[i * 4 + 2] = (uint8_t)(s->state[i] >> 8);
		digest[i * 4 + 3] = (uint8_t)s->state[i];
	}
}

/* ---------------------------------------------------------------------------------------
 * Semantic Versioning 2.0.0 precedence, as src/ota/semver.ts (parseSemVer/compareSemVer):
 * at most 64 chars, core numeric parts without leading zeros and below 2^53, pre-release
 * identifiers non-empty [0-9A-Za-z-] (numeric ones without leading zeros), build metadata
 * accepted and ignored. Returns -1/0/1, or 2 when either string is not a version.
 */

#define kSemverInvalid 2
#define kSemverMaxLength 64
#define kSafeInteger 9007199254740991ULL	// 2^53 - 1

typedef struct {
	uint64_t core[3];
	const char *pre;		// pre-release identifiers (dot separated), NULL when none
	size_t preLength;
} otaboot_semver;

static bool otaboot_ident_char(char c)
{
	return ((c >= '0') && (c <= '9')) || ((c >= 'A') && (c <= 'Z')) || ((c >= 'a') && (c <= 'z')) || (c == '-');
}

static bool otaboot_all_digits(const char *p, size_t n)
{
	size_t i;
	if (0 == n) return false;
	for (i = 0; i < n; i++)
		if ((p[i] < '0') || (p[i] > '9')) return false;
	return true;
}

// dot separated identifiers in [p, p + n): each non-empty [0-9A-Za-z-]+; numeric ones without leading zeros when strictNumeric
static bool otaboot_idents_ok(const char *p, size_t n, bool strictNumeric)
{
	size_t start = 0, i;
	for (i = 0; i <= n; i++) {
		if ((i == n) || (p[i] == '.')) {
			size_t len = i - start;
			if (0 == len) return false;
			if (strictNumeric && otaboot_all_digits(p + start, len) && (len > 1) && (p[start] == '0')) return false;
			start = i + 1;
		}
		else if (!otaboot_ident_char(p[i]))
			return false;
	}
	return true;
}

static bool otaboot_semver_parse(const char *text, otaboot_semver *v)
{
	size_t length = text ? strlen(text) : 0, coreLength, i, start;
	const char *plus, *dash;
	int part = 0;

	if ((0 == length) || (length > kSemverMaxLength)) return false;
	plus = memchr(text, '+', length);
	if (plus) {
		if (!otaboot_idents_ok(plus + 1, length - (size_t)(plus + 1 - text), false)) return false;
		length = (size_t)(plus - text);
	}
	dash = memchr(text, '-', length);
	v->pre = NULL;
	v->preLength = 0;
	if (dash) {
		v->pre = dash + 1;
		v->preLength = length - (size_t)(dash + 1 - text);
		if (!otaboot_idents_ok(v->pre, v->preLength, true)) return false;
		length = (size_t)(dash - text);
	}
	coreLength = length;
	start = 0;
	for (i = 0; i <= coreLength; i++) {
		if ((i == coreLength) || (text[i] == '.')) {
			size_t n = i - start, j;
			uint64_t value = 0;
			if ((part >= 3) || !otaboot_all_digits(text + start, n)) return false;
			if ((n > 1) && (text[start] == '0')) return false;
			if (n > 16) return false;
			for (j = 0; j < n; j++)
				value = value * 10 + (uint64_t)(text[start + j] - '0');
			if (value > kSafeInteger) return false;
			v->core[part++] = value;
			start = i + 1;
		}
	}
	return 3 == part;
}

static int otaboot_compare_ident(const char *a, size_t na, const char *b, size_t nb)
{
	bool da = otaboot_all_digits(a, na), db = otaboot_all_digits(b, nb);
	int c;
	if ((na == nb) && (0 == memcmp(a, b, na))) return 0;
	if (da && db) {	// numeric: no leading zeros, so longer is larger
		if (na != nb) return na < nb ? -1 : 1;
		return memcmp(a, b, na) < 0 ? -1 : 1;
	}
	if (da != db) return da ? -1 : 1;	// numeric identifiers have lower precedence
	c = memcmp(a, b, na < nb ? na : nb);	// ASCII order
	if (c) return c < 0 ? -1 : 1;
	return na < nb ? -1 : 1;
}

static int otaboot_semver_compare(const char *a, const char *b)
{
	otaboot_semver va, vb;
	size_t ia = 0, ib = 0;
	int i;

	if (!otaboot_semver_parse(a, &va) || !otaboot_semver_parse(b, &vb)) return kSemverInvalid;
	for (i = 0; i < 3; i++)
		if (va.core[i] != vb.core[i]) return va.core[i] < vb.core[i] ? -1 : 1;
	if (!va.pre || !vb.pre) {
		if (!va.pre && !vb.pre) return 0;
		return va.pre ? -1 : 1;		// a release outranks its pre-releases
	}
	while ((ia < va.preLength) && (ib < vb.preLength)) {
		size_t ea = ia, eb = ib;
		int c;
		while ((ea < va.preLength) && (va.pre[ea] != '.')) ea++;
		while ((eb < vb.preLength) && (vb.pre[eb] != '.')) eb++;
		c = otaboot_compare_ident(va.pre + ia, ea - ia, vb.pre + ib, eb - ib);
		if (c) return c;
		ia = ea + 1;
		ib = eb + 1;
	}
	if ((ia >= va.preLength) && (ib >= vb.preLength)) return 0;
	return (ia >= va.preLength) ? -1 : 1;		// fewer identifiers: lower precedence
}

/* ---------------------------------------------------------------------------------------
 * helpers
 */

static bool otaboot_is_ota_app(const esp_partition_t *p)
{
	return p && (ESP_PARTITION_TYPE_APP == p->type) &&
		(p->subtype >= ESP_PARTITION_SUBTYPE_APP_OTA_MIN) && (p->subtype < ESP_PARTITION_SUBTYPE_APP_OTA_MAX);
}

static int otaboot_slot(const esp_partition_t *p)
{
	return (int)p->subtype - (int)ESP_PARTITION_SUBTYPE_APP_OTA_MIN;
}

static void otaboot_slot_key(char *key, char prefix, int slot)
{
	key[0] = prefix;
	if (slot >= 10) {
		key[1] = (char)('0' + slot / 10);
		key[2] = (char)('0' + slot % 10);
		key[3] = 0;
	}
	else {
		key[1] = (char)('0' + slot);
		key[2] = 0;
	}
}

static bool otaboot_is_string(xsMachine *the, xsSlot *slot)
{
	xsType type = xsmcTypeOf(*slot);
	return (xsStringType == type) || (xsStringXType == type);
}

// copies a JS string argument into buffer (size includes the terminator); throws TypeError / RangeError
static void otaboot_get_string(xsMachine *the, xsSlot *slot, char *buffer, size_t size, const char *what)
{
	const char *s;
	size_t length;

	if (!otaboot_is_string(the, slot))
		xsTypeError("%s: string expected", what);
	s = xsmcToString(*slot);
	length = strlen(s);
	if (length >= size)
		xsRangeError("%s: longer than %d bytes", what, (int)(size - 1));
	memcpy(buffer, s, length + 1);
}

// the OTA app partition named label; throws RangeError like the twin ("no OTA partition")
static const esp_partition_t *otaboot_find_ota(xsMachine *the, xsSlot *slot)
{
	char label[kLabelBytes + 1];
	const esp_partition_t *p;

	otaboot_get_string(the, slot, label, sizeof(label), "label");
	p = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_ANY, label);
	if (!otaboot_is_ota_app(p))
		xsRangeError("no OTA partition \"%s\"", label);
	return p;
}

// reads a string from NVS into value (size bytes); "" when absent. ESP_OK or the error
static esp_err_t otaboot_nvs_get(nvs_handle_t handle, const char *key, char *value, size_t size)
{
	size_t length = size;
	esp_err_t err = nvs_get_str(handle, key, value, &length);
	if (ESP_ERR_NVS_NOT_FOUND == err) {
		value[0] = 0;
		return ESP_OK;
	}
	if (ESP_OK != err)
		value[0] = 0;
	return err;
}

// sets key to value, or erases it when value is "" (absent = none)
static esp_err_t otaboot_nvs_put(nvs_handle_t handle, const char *key, const char *value)
{
	esp_err_t err;
	if (value[0])
		return nvs_set_str(handle, key, value);
	err = nvs_erase_key(handle, key);
	return (ESP_ERR_NVS_NOT_FOUND == err) ? ESP_OK : err;
}

static void otaboot_throw(xsMachine *the, const char *what, esp_err_t err)
{
	xsUnknownError("%s: %s", what, esp_err_to_name(err));
}

/* ---------------------------------------------------------------------------------------
 * host functions
 */

void xs_otaboot_runningPartition(xsMachine *the)
{
	const esp_partition_t *p = esp_ota_get_running_partition();
	if (!p)
		xsUnknownError("no running partition");
	xsmcSetString(xsResult, (char *)p->label);
}

void xs_otaboot_nextUpdatePartition(xsMachine *the)
{
	const esp_partition_t *p = esp_ota_get_next_update_partition(NULL);
	if (!p)
		xsUnknownError("no OTA update partition");
	xsmcSetString(xsResult, (char *)p->label);
}

void xs_otaboot_partitionState(xsMachine *the)
{
	const esp_partition_t *p = otaboot_find_ota(the, &xsArg(0));
	esp_ota_img_states_t state;
	const char *result = "empty";		// ESP_OTA_IMG_UNDEFINED, or no otadata entry for this slot

	if (ESP_OK == esp_ota_get_state_partition(p, &state)) {
		switch (state) {
			case ESP_OTA_IMG_NEW: result = "new"; break;
			case ESP_OTA_IMG_PENDING_VERIFY: result = "pending-verify"; break;
			case ESP_OTA_IMG_VALID: result = "valid"; break;
			case ESP_OTA_IMG_INVALID:
			case ESP_OTA_IMG_ABORTED: result = "invalid"; break;
			default: result = "empty"; break;
		}
	}
	xsmcSetString(xsResult, (char *)result);
}

/*
 * setBootPartition(label, byteLength, sha256, version, minVersion) — ota-boot.js unpacks
 * the image object into these arguments.
 */
void xs_otaboot_setBootPartition(xsMachine *the)
{
	const esp_partition_t *p, *running;
	char version[kVersionBytes + 1], minVersion[kVersionBytes + 1], key[4];
	uint8_t expected[32], digest[32], *chunk;
	void *data;
	xsUnsignedValue dataLength;
	xsType type;
	double length;
	uint32_t byteLength, offset, chunks = 0;
	otaboot_sha256 sha;
	nvs_handle_t handle;
	esp_err_t err;
	int i, diff = 0;

	if (xsmcArgc < 4)
		xsTypeError("setBootPartition: label and image expected");
	p = otaboot_find_ota(the, &xsArg(0));

	type = xsmcTypeOf(xsArg(1));
	if ((xsIntegerType != type) && (xsNumberType != type))
		xsTypeError("image.byteLength: number expected");
	length = xsmcToNumber(xsArg(1));
	if (!(length >= 1) || (length > (double)p->size) || (length != (double)(uint32_t)length))	// NaN fails the first test
		xsRangeError("image.byteLength: integer in 1..%d expected", (int)p->size);
	byteLength = (uint32_t)length;

	if (xsReferenceType != xsmcTypeOf(xsArg(2)))
		xsTypeError("image.sha256: ArrayBuffer or Uint8Array expected");
	xsmcGetBufferReadable(xsArg(2), &data, &dataLength);
	if (32 != dataLength)
		xsRangeError("image.sha256: 32 bytes expected");
	memcpy(expected, data, 32);		// copied at once: the buffer may move at the next GC

	otaboot_get_string(the, &xsArg(3), version, sizeof(version), "image.version");
	minVersion[0] = 0;
	if ((xsmcArgc > 4) && (xsUndefinedType != xsmcTypeOf(xsArg(4))))
		otaboot_get_string(the, &xsArg(4), minVersion, sizeof(minVersion), "image.minVersion");

	running = esp_ota_get_running_partition();
	if (p == running)
		xsUnknownError("cannot switch to the running partition");

	// hash the slot in bounded chunks; nothing below throws while chunk is held
	chunk = c_malloc(kHashChunk);
	if (!chunk)
		xsUnknownError("no memory");
	otaboot_sha256_start(&sha);
	for (offset = 0, err = ESP_OK; offset < byteLength; ) {
		uint32_t n = byteLength - offset;
		if (n > kHashChunk) n = kHashChunk;
		err = esp_partition_read(p, offset, chunk, n);
		if (ESP_OK != err)
			break;
		otaboot_sha256_update(&sha, chunk, n);
		offset += n;
		modWatchDogReset();
		if (0 == (++chunks % kYieldEvery))
			vTaskDelay(1);		// one tick: lets the idle task (and its watchdog) run
	}
	c_free(chunk);
	if (ESP_OK != err)
		otaboot_throw(the, "esp_partition_read", err);
	otaboot_sha256_finish(&sha, digest);
	for (i = 0; i < 32; i++)
		diff |= digest[i] ^ expected[i];
	if (diff)
		xsUnknownError("image does not verify (sha256 mismatch over %d bytes of %s)", (int)byteLength, (char *)p->label);

	// the slot's record first: a power cut before the switch leaves the old boot choice intact
	err = nvs_open(kNamespace, NVS_READWRITE, &handle);
	if (ESP_OK != err)
		otaboot_throw(the, "nvs_open", err);
	otaboot_slot_key(key, 'v', otaboot_slot(p));
	err = otaboot_nvs_put(handle, key, version);
	if (ESP_OK == err) {
		otaboot_slot_key(key, 'm', otaboot_slot(p));
		err = otaboot_nvs_put(handle, key, minVersion);
	}
	if (ESP_OK == err)
		err = nvs_commit(handle);
	nvs_close(handle);
	if (ESP_OK != err)
		otaboot_throw(the, "nvs", err);

	err = esp_ota_set_boot_partition(p);
	if (ESP_OK != err)
		otaboot_throw(the, "esp_ota_set_boot_partition", err);
}

void xs_otaboot_markValid(xsMachine *the)
{
	const esp_partition_t *running = esp_ota_get_running_partition();
	esp_ota_img_states_t state;
	char minVersion[kVersionBytes + 1], floor[kVersionBytes + 1], key[4];
	nvs_handle_t handle;
	esp_err_t err;

	if (!otaboot_is_ota_app(running))
		return;		// factory app: nothing to confirm
	if (esp_ota_get_boot_partition() != running)
		return;		// a switch is pending: the running image is already trusted (twin: markValid)
	if (ESP_OK != esp_ota_get_state_partition(running, &state))
		return;		// no otadata entry for this slot (serial-flashed): nothing to confirm
	if ((ESP_OTA_IMG_NEW != state) && (ESP_OTA_IMG_PENDING_VERIFY != state) && (ESP_OTA_IMG_UNDEFINED != state))
		return;		// already valid

	/*
	 * Floor first, then the commit: a power cut in between leaves the image pending (the
	 * bootloader rolls back) with the floor already raised — never a committed image
	 * whose floor was lost.
	 */
	err = nvs_open(kNamespace, NVS_READWRITE, &handle);
	if (ESP_OK != err)
		otaboot_throw(the, "nvs_open", err);
	otaboot_slot_key(key, 'm', otaboot_slot(running));
	err = otaboot_nvs_get(handle, key, minVersion, sizeof(minVersion));
	if ((ESP_OK == err) && minVersion[0]) {
		err = otaboot_nvs_get(handle, kFloorKey, floor, sizeof(floor));
		if ((ESP_OK == err) && ((0 == floor[0]) || (1 == otaboot_semver_compare(minVersion, floor))))
			err = nvs_set_str(handle, kFloorKey, minVersion);
		if (ESP_OK == err)
			err = otaboot_nvs_put(handle, key, "");		// consumed
		if (ESP_OK == err)
			err = nvs_commit(handle);
	}
	nvs_close(handle);
	if (ESP_OK != err)
		otaboot_throw(the, "nvs", err);

	err = esp_ota_mark_app_valid_cancel_rollback();
	if (ESP_OK != err)
		otaboot_throw(the, "esp_ota_mark_app_valid_cancel_rollback", err);
}

/*
 * esp_ota_mark_app_invalid_rollback_and_reboot() without the reboot.
 *
 * ESP-IDF >= 5.5: esp_ota_mark_app_invalid_rollback(), the documented API for exactly this.
 *
 * Older ESP-IDF: the same steps as IDF's esp_ota_current_ota_is_workable(false) up to (not
 * including) its esp_restart(), through the public bootloader_support API: read both otadata
 * copies, find the active one (bootloader_common_get_active_otadata), refuse when
 * esp_ota_check_rollback_is_possible() is false (ESP_ERR_OTA_ROLLBACK_FAILED, as IDF), set
 * the active copy's ota_state to ESP_OTA_IMG_INVALID, recompute its CRC
 * (bootloader_common_ota_select_crc) and rewrite that copy's sector (erase + write, as
 * IDF's rewrite_ota_seq). The bootloader never selects an INVALID entry, so the next boot
 * takes the other copy — the previous image, in the state it had (valid stays valid).
 * A power cut between the erase and the write leaves only the other copy: the same result.
 * Not chosen: esp_ota_set_boot_partition(previous slot) — it writes the previous image as
 * NEW (it would have to pass a health check again) and leaves this slot PENDING_VERIFY.
 */
static esp_err_t otaboot_mark_invalid_no_reboot(void)
{
#if MOTE_OTA_BOOT_IDF_INVALID_ROLLBACK
	return esp_ota_mark_app_invalid_rollback();
#else
	esp_ota_select_entry_t otadata[2];
	const esp_partition_t *p = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_OTA, NULL);
	esp_err_t err;
	int active;

	if (!p)
		return ESP_ERR_NOT_FOUND;
	err = esp_partition_read(p, 0, &otadata[0], sizeof(esp_ota_select_entry_t));
	if (ESP_OK == err)
		err = esp_partition_read(p, kOtadataSector, &otadata[1], sizeof(esp_ota_select_entry_t));
	if (ESP_OK != err)
		return err;
	active = bootloader_common_get_active_otadata(otadata);
	if (-1 == active)
		return ESP_FAIL;		// IDF: "Running firmware is factory"
	if (!esp_ota_check_rollback_is_possible())
		return ESP_ERR_OTA_ROLLBACK_FAILED;
	otadata[active].ota_state = ESP_OTA_IMG_INVALID;
	otadata[active].crc = bootloader_common_ota_select_crc(&otadata[active]);
	err = esp_partition_erase_range(p, (size_t)active * kOtadataSector, kOtadataSector);
	if (ESP_OK != err)
		return err;
	return esp_partition_write(p, (size_t)active * kOtadataSector, &otadata[active], sizeof(esp_ota_select_entry_t));
#endif
}

void xs_otaboot_markInvalid(xsMachine *the)
{
	const esp_partition_t *running = esp_ota_get_running_partition();
	char key[4];
	nvs_handle_t handle;
	esp_err_t err;

	if (otaboot_is_ota_app(running) && (esp_ota_get_boot_partition() != running))
		return;		// a switch is pending (or this image is already invalid): next boot leaves it anyway (twin)

	err = otaboot_mark_invalid_no_reboot();
	if (ESP_OK != err)
		otaboot_throw(the, "esp_ota_mark_app_invalid_rollback", err);

	// the rejected image's minVersion must never raise the floor: best effort
	if (otaboot_is_ota_app(running) && (ESP_OK == nvs_open(kNamespace, NVS_READWRITE, &handle))) {
		otaboot_slot_key(key, 'm', otaboot_slot(running));
		if (ESP_OK == otaboot_nvs_put(handle, key, ""))
			nvs_commit(handle);
		nvs_close(handle);
	}
}

void xs_otaboot_restart(xsMachine *the)
{
	esp_restart();
}

void xs_otaboot_floorVersion(xsMachine *the)
{
	char floor[kVersionBytes + 1];
	nvs_handle_t handle;
	esp_err_t err;

	floor[0] = 0;
	err = nvs_open(kNamespace, NVS_READONLY, &handle);
	if (ESP_OK == err) {
		err = otaboot_nvs_get(handle, kFloorKey, floor, sizeof(floor));
		nvs_close(handle);
		if (ESP_OK != err)
			otaboot_throw(the, "nvs_get_str", err);
	}
	else if (ESP_ERR_NVS_NOT_FOUND != err)
		otaboot_throw(the, "nvs_open", err);
	xsmcSetString(xsResult, floor);
}

#ifdef MOTE_OTA_BOOT_TEST
/* host test hooks (test/native): the pure parts */
int mote_otaboot_semver_compare(const char *a, const char *b) { return otaboot_semver_compare(a, b); }
void mote_otaboot_sha256(const uint8_t *data, size_t size, uint8_t digest[32])
{
	otaboot_sha256 s;
	otaboot_sha256_start(&s);
	otaboot_sha256_update(&s, data, size);
	otaboot_sha256_finish(&s, digest);
}
#endif
