/* test stub of Moddable's xsPlatform.h (esp): the c_* wrappers (allocation counted by the fake) */
#ifndef __XSPLATFORM__
#define __XSPLATFORM__
#include <stddef.h>
#include <string.h>
void *c_malloc(size_t size);
void c_free(void *data);
#define c_memcpy memcpy
#define c_memcmp memcmp
#define c_strlen strlen
#define c_strcmp strcmp
#endif
