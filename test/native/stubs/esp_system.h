/* test stub of ESP-IDF esp_system/include/esp_system.h */
#pragma once
#include "esp_err.h"
void esp_restart(void) __attribute__((noreturn));
