/*
 * In-memory ESP-IDF for the host test of native/ota-boot/ota-boot.c.
 * The otadata functions follow components/app_update/esp_ota_ops.c (v5.5) and
 * bootloader_support's bootloader_common.c; fake_boot() follows the slot choice of
 * bootloader_utility.c with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE. Image validation
 * (esp_image_verify) is reduced to the 0xE9 header magic byte.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fake.h"
#include "esp_system.h"
#include "esp_flash_partitions.h"
#include "bootloader_common.h"
#include "nvs_flash/include/nvs.h"
#include "freertos/task.h"
#include "xsPlatform.h"

const esp_partition_t fake_partitions[3] = {
	{ NULL, ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_0, 0x10000, FAKE_SLOT_SIZE, FAKE_SECTOR, "ota_0", false, false },
	{ NULL, ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_1, 0x10000 + FAKE_SLOT_SIZE, FAKE_SLOT_SIZE, FAKE_SECTOR, "ota_1", false, false },
	{ NULL, ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_OTA, 0xd000, 2 * FAKE_SECTOR, FAKE_SECTOR, "otadata", false, false },
};
static uint8_t flash0[FAKE_SLOT_SIZE], flash1[FAKE_SLOT_SIZE], flashOtadata[2 * FAKE_SECTOR];
static uint8_t *const flashes[3] = { flash0, flash1, flashOtadata };

bool fake_rollback_enabled = true;
int fake_running = 0;
int fake_fail_read_at = -1;
unsigned fake_wdt_resets, fake_delays, fake_max_read, fake_live_allocs, fake_restarts;

static int index_of(const esp_partition_t *p)
{
	int i;
	for (i = 0; i < 3; i++)
		if (p == &fake_partitions[i]) return i;
	fprintf(stderr, "fake: unknown partition pointer\n");
	abort();
}

/* --- esp_partition ----------------------------------------------------------------- */

const esp_partition_t *esp_partition_find_first(esp_partition_type_t type, esp_partition_subtype_t subtype, const char *label)
{
	int i;
	for (i = 0; i < 3; i++) {
		const esp_partition_t *p = &fake_partitions[i];
		if ((type != ESP_PARTITION_TYPE_ANY) && (p->type != type)) continue;
		if ((subtype != ESP_PARTITION_SUBTYPE_ANY) && (p->subtype != subtype)) continue;
		if (label && strcmp(label, p->label)) continue;
		return p;
	}
	return NULL;
}

esp_err_t esp_partition_read(const esp_partition_t *partition, size_t src_offset, void *dst, size_t size)
{
	int i = index_of(partition);
	if ((src_offset + size) > partition->size) return ESP_ERR_INVALID_SIZE;
	if ((i < 2) && (fake_fail_read_at >= 0) && ((size_t)fake_fail_read_at >= src_offset) && ((size_t)fake_fail_read_at < src_offset + size))
		return ESP_FAIL;
	if ((i < 2) && (size > fake_max_read)) fake_max_read = (unsigned)size;
	memcpy(dst, flashes[i] + src_offset, size);
	return ESP_OK;
}

esp_err_t esp_partition_write(const esp_partition_t *partition, size_t dst_offset, const void *src, size_t size)
{
	uint8_t *f = flashes[index_of(partition)];
	const uint8_t *s = src;
	size_t j;
	if ((dst_offset + size) > partition->size) return ESP_ERR_INVALID_SIZE;
	for (j = 0; j < size; j++)
		f[dst_offset + j] &= s[j];		/* NOR: a write only clears bits */
	return ESP_OK;
}

esp_err_t esp_partition_erase_range(const esp_partition_t *partition, size_t offset, size_t size)
{
	if ((offset % FAKE_SECTOR) || (size % FAKE_SECTOR) || ((offset + size) > partition->size)) return ESP_ERR_INVALID_ARG;
	memset(flashes[index_of(partition)] + offset, 0xff, size);
	return ESP_OK;
}

/* --- bootloader_common ------------------------------------------------------------- */

static uint32_t crc32_le(uint32_t crc, const uint8_t *p, size_t n)	/* esp_rom_crc32_le */
{
	size_t i;
	int k;
	crc = ~crc;
	for (i = 0; i < n; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

uint32_t bootloader_common_ota_select_crc(const esp_ota_select_entry_t *s)
{
	return crc32_le(UINT32_MAX, (const uint8_t *)&s->ota_seq, 4);
}

bool bootloader_common_ota_select_invalid(const esp_ota_select_entry_t *s)
{
	return s->ota_seq == UINT32_MAX || s->ota_state == ESP_OTA_IMG_INVALID || s->ota_state == ESP_OTA_IMG_ABORTED;
}

bool bootloader_common_ota_select_valid(const esp_ota_select_entry_t *s)
{
	return bootloader_common_ota_select_invalid(s) == false && s->crc == bootloader_common_ota_select_crc(s);
}

int bootloader_common_select_otadata(const esp_ota_select_entry_t *two_otadata, bool *valid_two_otadata, bool max)
{
	if (two_otadata == NULL || valid_two_otadata == NULL) return -1;
	if (valid_two_otadata[0] && valid_two_otadata[1]) {
		uint32_t a = two_otadata[0].ota_seq, b = two_otadata[1].ota_seq;
		if (max) return (a > b) ? 0 : 1;
		return (a < b) ? 0 : 1;
	}
	if (valid_two_otadata[0]) return 0;
	if (valid_two_otadata[1]) return 1;
	return -1;
}

int bootloader_common_get_active_otadata(esp_ota_select_entry_t *two_otadata)
{
	bool valid[2];
	if (two_otadata == NULL) return -1;
	valid[0] = bootloader_common_ota_select_valid(&two_otadata[0]);
	valid[1] = bootloader_common_ota_select_valid(&two_otadata[1]);
	return bootloader_common_select_otadata(two_otadata, valid, true);
}

/* --- esp_ota_ops (esp_ota_ops.c, app side) ------------------------------------------ */

#define OTA_COUNT 2

static void read_otadata(esp_ota_select_entry_t *two)
{
	memcpy(&two[0], flashOtadata, sizeof(*two));
	memcpy(&two[1], flashOtadata + FAKE_SECTOR, sizeof(*two));
}

static esp_err_t rewrite_ota_seq(esp_ota_select_entry_t *two, uint32_t seq, int sec_id)
{
	two[sec_id].ota_seq = seq;
	two[sec_id].crc = bootloader_common_ota_select_crc(&two[sec_id]);
	esp_err_t err = esp_partition_erase_range(&fake_partitions[2], (size_t)sec_id * FAKE_SECTOR, FAKE_SECTOR);
	if (err) return err;
	return esp_partition_write(&fake_partitions[2], (size_t)sec_id * FAKE_SECTOR, &two[sec_id], sizeof(*two));
}

static bool image_valid(int slot)
{
	return (slot == 0 ? flash0 : flash1)[0] == 0xE9;	/* ESP_IMAGE_HEADER_MAGIC */
}

const esp_partition_t *esp_ota_get_running_partition(void) { return &fake_partitions[fake_running]; }

const esp_partition_t *esp_ota_get_next_update_partition(const esp_partition_t *start_from)
{
	if (start_from == NULL) start_from = esp_ota_get_running_partition();
	return &fake_partitions[index_of(start_from) == 0 ? 1 : 0];
}

const esp_partition_t *esp_ota_get_boot_partition(void)
{
	esp_ota_select_entry_t otadata[2];
	read_otadata(otadata);
	if (bootloader_common_ota_select_invalid(&otadata[0]) && bootloader_common_ota_select_invalid(&otadata[1]))
		return &fake_partitions[0];		/* no factory app: the first OTA slot */
	int active = bootloader_common_get_active_otadata(otadata);
	if (active != -1)
		return &fake_partitions[(otadata[active].ota_seq - 1) % OTA_COUNT];
	return &fake_partitions[0];
}

esp_err_t esp_ota_set_boot_partition(const esp_partition_t *partition)
{
	esp_ota_select_entry_t otadata[2];
	int slot, active, next;
	uint32_t seq;
	if (partition == NULL) return ESP_ERR_INVALID_ARG;
	slot = index_of(partition);
	if (slot > 1) return ESP_ERR_INVALID_ARG;
	if (!image_valid(slot)) return ESP_ERR_OTA_VALIDATE_FAILED;
	read_otadata(otadata);
	active = bootloader_common_get_active_otadata(otadata);
	if (active != -1) {
		if ((int)((otadata[active].ota_seq - 1) % OTA_COUNT) == slot) {
			next = active;
			seq = otadata[active].ota_seq;
		}
		else {
			uint32_t i = 0, base = (uint32_t)(slot + 1) % OTA_COUNT;
			next = (~active) & 1;
			while (otadata[active].ota_seq > (base + i * OTA_COUNT)) i++;
			seq = base + i * OTA_COUNT;
		}
	}
	else {
		next = 0;
		seq = (uint32_t)slot + 1;
	}
	otadata[next].ota_state = fake_rollback_enabled ? ESP_OTA_IMG_NEW : ESP_OTA_IMG_UNDEFINED;
	return rewrite_ota_seq(otadata, seq, next);
}

esp_err_t esp_ota_get_state_partition(const esp_partition_t *partition, esp_ota_img_states_t *ota_state)
{
	esp_ota_select_entry_t otadata[2];
	int i, slot;
	if (partition == NULL || ota_state == NULL) return ESP_ERR_INVALID_ARG;
	slot = index_of(partition);
	if (slot > 1) return ESP_ERR_NOT_SUPPORTED;
	read_otadata(otadata);
	for (i = 0; i < 2; ++i) {
		if ((int)((otadata[i].ota_seq - 1) % OTA_COUNT) == slot && otadata[i].crc == bootloader_common_ota_select_crc(&otadata[i])) {
			*ota_state = (esp_ota_img_states_t)otadata[i].ota_state;
			return ESP_OK;
		}
	}
	return ESP_ERR_NOT_FOUND;
}

bool esp_ota_check_rollback_is_possible(void)
{
	esp_ota_select_entry_t otadata[2];
	bool valid[2];
	int active, last;
	read_otadata(otadata);
	valid[0] = bootloader_common_ota_select_valid(&otadata[0]);
	valid[1] = bootloader_common_ota_select_valid(&otadata[1]);
	active = bootloader_common_select_otadata(otadata, valid, true);
	if (active == -1) return false;
	last = (~active) & 1;
	if (valid[last]) return image_valid((int)((otadata[last].ota_seq - 1) % OTA_COUNT));
	return false;	/* no factory app */
}

static esp_err_t current_ota_is_workable(bool valid)
{
	esp_ota_select_entry_t otadata[2];
	read_otadata(otadata);
	int active = bootloader_common_get_active_otadata(otadata);
	if (active == -1) return ESP_FAIL;		/* "Running firmware is factory" */
	if (valid && otadata[active].ota_state != ESP_OTA_IMG_VALID) {
		otadata[active].ota_state = ESP_OTA_IMG_VALID;
		return rewrite_ota_seq(otadata, otadata[active].ota_seq, active);
	}
	if (!valid) {
		if (!esp_ota_check_rollback_is_possible()) return ESP_ERR_OTA_ROLLBACK_FAILED;
		otadata[active].ota_state = ESP_OTA_IMG_INVALID;
		return rewrite_ota_seq(otadata, otadata[active].ota_seq, active);
	}
	return ESP_OK;
}

esp_err_t esp_ota_mark_app_valid_cancel_rollback(void) { return current_ota_is_workable(true); }
esp_err_t esp_ota_mark_app_invalid_rollback(void) { return current_ota_is_workable(false); }
esp_err_t esp_ota_mark_app_invalid_rollback_and_reboot(void)
{
	esp_err_t err = esp_ota_mark_app_invalid_rollback();
	if (err == ESP_OK) esp_restart();
	return err;
}

/* --- the bootloader (bootloader_utility.c, rollback enabled, no factory app) -------- */

int fake_boot(void)
{
	esp_ota_select_entry_t otadata[2];
	int i, boot;
	read_otadata(otadata);
	if (fake_rollback_enabled) {
		for (i = 0; i < 2; i++) {
			if (otadata[i].ota_state == ESP_OTA_IMG_PENDING_VERIFY) {	/* never confirmed: aborted */
				otadata[i].ota_state = ESP_OTA_IMG_ABORTED;
				rewrite_ota_seq(otadata, otadata[i].ota_seq, i);
			}
		}
	}
	if (bootloader_common_ota_select_invalid(&otadata[0]) && bootloader_common_ota_select_invalid(&otadata[1]))
		boot = 0;
	else {
		int active = bootloader_common_get_active_otadata(otadata);
		boot = (active == -1) ? 0 : (int)((otadata[active].ota_seq - 1) % OTA_COUNT);
		if ((active != -1) && fake_rollback_enabled && (otadata[active].ota_state == ESP_OTA_IMG_NEW)) {
			otadata[active].ota_state = ESP_OTA_IMG_PENDING_VERIFY;
			rewrite_ota_seq(otadata, otadata[active].ota_seq, active);
		}
	}
	if (!image_valid(boot)) boot = 1 - boot;	/* load_boot_image falls back to another slot */
	fake_running = boot;
	return boot;
}

/* --- flash setup ------------------------------------------------------------------- */

void fake_reset_flash(void)
{
	memset(flash0, 0xff, sizeof(flash0));
	memset(flash1, 0xff, sizeof(flash1));
	memset(flashOtadata, 0xff, sizeof(flashOtadata));
	fake_running = 0;
	fake_fail_read_at = -1;
}

void fake_write_image(int slot, const uint8_t *data, uint32_t length)
{
	esp_partition_erase_range(&fake_partitions[slot], 0, FAKE_SLOT_SIZE);
	esp_partition_write(&fake_partitions[slot], 0, data, length);
}

void fake_set_otadata(int copy, uint32_t seq, uint32_t state)
{
	esp_ota_select_entry_t two[2];
	read_otadata(two);
	memset(&two[copy], 0xff, sizeof(two[copy]));
	two[copy].ota_state = state;
	rewrite_ota_seq(two, seq, copy);
}

void fake_get_otadata(int copy, esp_ota_select_entry_t *entry) { memcpy(entry, flashOtadata + copy * FAKE_SECTOR, sizeof(*entry)); }

/* --- NVS (strings only) ------------------------------------------------------------ */

#define NVS_MAX 32
static struct { char ns[16], key[16], value[64]; bool used; } nvs[NVS_MAX];
static struct { char ns[16]; bool open, writable; } handles[8];

void fake_nvs_reset(void) { memset(nvs, 0, sizeof(nvs)); memset(handles, 0, sizeof(handles)); }

static int nvs_find(const char *ns, const char *key)
{
	int i;
	for (i = 0; i < NVS_MAX; i++)
		if (nvs[i].used && !strcmp(nvs[i].ns, ns) && !strcmp(nvs[i].key, key)) return i;
	return -1;
}

const char *fake_nvs_get(const char *ns, const char *key)
{
	int i = nvs_find(ns, key);
	return (i < 0) ? NULL : nvs[i].value;
}

esp_err_t nvs_open(const char *namespace_name, nvs_open_mode_t open_mode, nvs_handle_t *out_handle)
{
	int i, h;
	bool exists = false;
	if (strlen(namespace_name) > 15) return ESP_ERR_NVS_INVALID_NAME;
	for (i = 0; i < NVS_MAX; i++)
		if (nvs[i].used && !strcmp(nvs[i].ns, namespace_name)) exists = true;
	if (!exists && (NVS_READONLY == open_mode)) return ESP_ERR_NVS_NOT_FOUND;
	for (h = 1; h < 8; h++) {
		if (!handles[h].open) {
			strcpy(handles[h].ns, namespace_name);
			handles[h].open = true;
			handles[h].writable = (NVS_READWRITE == open_mode);
			*out_handle = (nvs_handle_t)h;
			return ESP_OK;
		}
	}
	return ESP_ERR_NO_MEM;
}

static bool handle_ok(nvs_handle_t h) { return (h > 0) && (h < 8) && handles[h].open; }

esp_err_t nvs_set_str(nvs_handle_t handle, const char *key, const char *value)
{
	int i;
	if (!handle_ok(handle)) return ESP_ERR_NVS_INVALID_HANDLE;
	if (!handles[handle].writable) return ESP_ERR_NVS_READ_ONLY;
	if (strlen(key) > 15) return ESP_ERR_NVS_KEY_TOO_LONG;
	if (strlen(value) >= 64) return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
	i = nvs_find(handles[handle].ns, key);
	if (i < 0) {
		for (i = 0; i < NVS_MAX && nvs[i].used; i++) ;
		if (i == NVS_MAX) return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
		nvs[i].used = true;
		strcpy(nvs[i].ns, handles[handle].ns);
		strcpy(nvs[i].key, key);
	}
	strcpy(nvs[i].value, value);
	return ESP_OK;
}

esp_err_t nvs_get_str(nvs_handle_t handle, const char *key, char *out_value, size_t *length)
{
	int i;
	size_t need;
	if (!handle_ok(handle)) return ESP_ERR_NVS_INVALID_HANDLE;
	if (strlen(key) > 15) return ESP_ERR_NVS_KEY_TOO_LONG;
	i = nvs_find(handles[handle].ns, key);
	if (i < 0) return ESP_ERR_NVS_NOT_FOUND;
	need = strlen(nvs[i].value) + 1;
	if (out_value == NULL) { *length = need; return ESP_OK; }
	if (*length < need) return ESP_ERR_NVS_INVALID_LENGTH;
	memcpy(out_value, nvs[i].value, need);
	*length = need;
	return ESP_OK;
}

esp_err_t nvs_erase_key(nvs_handle_t handle, const char *key)
{
	int i;
	if (!handle_ok(handle)) return ESP_ERR_NVS_INVALID_HANDLE;
	if (!handles[handle].writable) return ESP_ERR_NVS_READ_ONLY;
	i = nvs_find(handles[handle].ns, key);
	if (i < 0) return ESP_ERR_NVS_NOT_FOUND;
	nvs[i].used = false;
	return ESP_OK;
}

esp_err_t nvs_commit(nvs_handle_t handle) { return handle_ok(handle) ? ESP_OK : ESP_ERR_NVS_INVALID_HANDLE; }
void nvs_close(nvs_handle_t handle) { if (handle_ok(handle)) handles[handle].open = false; }

/* --- system ---------------------------------------------------------------------- */

esp_err_t esp_task_wdt_reset(void) { fake_wdt_resets++; return ESP_OK; }
void vTaskDelay(const TickType_t ticks) { (void)ticks; fake_delays++; }

void esp_restart(void)
{
	fake_restarts++;
	fake_error = -1;
	snprintf(fake_message, sizeof(fake_message), "esp_restart");
	if (!fake_catch) abort();
	longjmp(*fake_catch, 1);
}

void *c_malloc(size_t size) { void *p = malloc(size); if (p) fake_live_allocs++; return p; }
void c_free(void *data) { if (data) fake_live_allocs--; free(data); }

const char *esp_err_to_name(esp_err_t code)
{
	switch (code) {
		case ESP_OK: return "ESP_OK";
		case ESP_FAIL: return "ESP_FAIL";
		case ESP_ERR_NO_MEM: return "ESP_ERR_NO_MEM";
		case ESP_ERR_INVALID_ARG: return "ESP_ERR_INVALID_ARG";
		case ESP_ERR_INVALID_SIZE: return "ESP_ERR_INVALID_SIZE";
		case ESP_ERR_NOT_FOUND: return "ESP_ERR_NOT_FOUND";
		case ESP_ERR_OTA_VALIDATE_FAILED: return "ESP_ERR_OTA_VALIDATE_FAILED";
		case ESP_ERR_OTA_ROLLBACK_FAILED: return "ESP_ERR_OTA_ROLLBACK_FAILED";
		case ESP_ERR_NVS_NOT_FOUND: return "ESP_ERR_NVS_NOT_FOUND";
		case ESP_ERR_NVS_KEY_TOO_LONG: return "ESP_ERR_NVS_KEY_TOO_LONG";
		default: return "UNKNOWN ERROR";
	}
}
