/* test stub of FreeRTOS.h (ESP-IDF) */
#pragma once
#include <stdint.h>
typedef uint32_t TickType_t;
