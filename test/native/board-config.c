/*
 * Compiled by scripts/esp32-native-check.sh against each board's sdkconfig (Moddable's
 * defaults + boards/<board>/sdkconfig/sdkconfig.defaults, through esp-idf-check -s): the
 * settings mote's C and docs rely on must come out of the real ESP-IDF Kconfig as meant.
 */
#include "sdkconfig.h"

// native/ota-boot and docs/ota.md: a new image boots pending-verify until mote's health check
#if !CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
	#error "CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE must be y"
#endif
// boards/*/README.md: the task watchdog is on, resets the chip, and its timeout is 10 s
#if !CONFIG_ESP_TASK_WDT_EN || !CONFIG_ESP_TASK_WDT_INIT
	#error "the task watchdog must be enabled (CONFIG_ESP_TASK_WDT_EN, CONFIG_ESP_TASK_WDT_INIT)"
#endif
#if !CONFIG_ESP_TASK_WDT_PANIC
	#error "CONFIG_ESP_TASK_WDT_PANIC must be y: a hung JavaScript turn resets the chip"
#endif
#if CONFIG_ESP_TASK_WDT_TIMEOUT_S != 10
	#error "CONFIG_ESP_TASK_WDT_TIMEOUT_S must be 10"
#endif
// boards/*/partitions.csv is a 4 MB table
#if !CONFIG_ESPTOOLPY_FLASHSIZE_4MB || !CONFIG_PARTITION_TABLE_CUSTOM
	#error "4 MB flash and the custom partition table expected"
#endif

int mote_board_config_checked;
