/*
 * Host fakes for native/ota-boot/ota-boot.c: a tiny XS machine (fake_xs.c) and an
 * in-memory ESP-IDF (fake_idf.c): partitions ota_0, ota_1, otadata with NOR flash
 * semantics, the otadata logic of components/app_update/esp_ota_ops.c and the
 * bootloader's slot choice (bootloader_utility.c, rollback enabled), and NVS strings.
 */
#pragma once
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include "xsmc.h"
#include "esp_partition.h"
#include "app_update/include/esp_ota_ops.h"

/* --- fake XS ------------------------------------------------------------------- */
extern jmp_buf *fake_catch;		/* fxThrowMessage / esp_restart longjmp here */
extern int fake_error;			/* XS_*_ERROR of the last throw; -1 after esp_restart */
extern char fake_message[256];

void fake_reset_machine(xsMachine *the);
void fake_arg_undefined(xsMachine *the, int i);
void fake_arg_number(xsMachine *the, int i, double value);
void fake_arg_string(xsMachine *the, int i, const char *value);
void fake_arg_stringx(xsMachine *the, int i, const char *value);	/* a string in ROM (xsStringXType) */
void fake_arg_buffer(xsMachine *the, int i, const uint8_t *data, uint32_t length);

/* --- fake ESP-IDF ---------------------------------------------------------------- */
#define FAKE_SLOT_SIZE (256 * 1024)
#define FAKE_SECTOR 4096

extern const esp_partition_t fake_partitions[3];	/* ota_0, ota_1, otadata */
extern bool fake_rollback_enabled;			/* CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE */
extern int fake_running;					/* index of the running app partition */
extern int fake_fail_read_at;				/* esp_partition_read of an app slot fails at this offset (-1 never) */
extern unsigned fake_wdt_resets, fake_delays, fake_max_read, fake_live_allocs, fake_restarts;

void fake_reset_flash(void);				/* everything erased (serial-flashed device: blank otadata) */
void fake_write_image(int slot, const uint8_t *data, uint32_t length);	/* erase the slot, write an image */
void fake_set_otadata(int copy, uint32_t seq, uint32_t state);		/* one otadata copy, CRC computed */
void fake_get_otadata(int copy, esp_ota_select_entry_t *entry);
int fake_boot(void);						/* power-on: the bootloader picks the slot; returns it */

void fake_nvs_reset(void);
const char *fake_nvs_get(const char *ns, const char *key);	/* NULL when absent */
