/* test stub of ESP-IDF esp_system/include/esp_task_wdt.h */
#pragma once
#include "esp_err.h"
esp_err_t esp_task_wdt_reset(void);
