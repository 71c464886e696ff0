/* test stub of ESP-IDF bootloader_support/include/bootloader_common.h */
#pragma once
#include <stdint.h>
#include <stdbool.h>
#include "esp_flash_partitions.h"

uint32_t bootloader_common_ota_select_crc(const esp_ota_select_entry_t *s);
bool bootloader_common_ota_select_valid(const esp_ota_select_entry_t *s);
bool bootloader_common_ota_select_invalid(const esp_ota_select_entry_t *s);
int bootloader_common_get_active_otadata(esp_ota_select_entry_t *two_otadata);
int bootloader_common_select_otadata(const esp_ota_select_entry_t *two_otadata, bool *valid_two_otadata, bool max);
