/* test stub of Moddable's xs/platforms/esp/xsHost.h (ESP32, CONFIG_ESP_TASK_WDT_EN=y): the
   watchdog macro. Like the real header it does not declare esp_task_wdt_reset(): the module
   includes esp_task_wdt.h itself. */
#ifndef __XSHOST__
#define __XSHOST__
#define modWatchDogReset() esp_task_wdt_reset()
#endif
