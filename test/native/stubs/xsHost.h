/* test stub of Moddable's xs/platforms/esp/xsHost.h (ESP32): the watchdog macro */
#ifndef __XSHOST__
#define __XSHOST__
#include "esp_err.h"
esp_err_t esp_task_wdt_reset(void);		/* esp_system/include/esp_task_wdt.h */
#define modWatchDogReset() esp_task_wdt_reset()
#endif
