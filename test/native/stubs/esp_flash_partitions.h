/* test stub of ESP-IDF bootloader_support/include/esp_flash_partitions.h */
#pragma once
#include <stdint.h>

typedef enum {
	ESP_OTA_IMG_NEW = 0x0U,
	ESP_OTA_IMG_PENDING_VERIFY = 0x1U,
	ESP_OTA_IMG_VALID = 0x2U,
	ESP_OTA_IMG_INVALID = 0x3U,
	ESP_OTA_IMG_ABORTED = 0x4U,
	ESP_OTA_IMG_UNDEFINED = 0xFFFFFFFFU,
} esp_ota_img_states_t;

typedef struct {
	uint32_t ota_seq;
	uint8_t seq_label[20];
	uint32_t ota_state;
	uint32_t crc;
} esp_ota_select_entry_t;
