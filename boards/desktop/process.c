/* mote/process for Moddable's desktop targets.
   - exit(status) ends the process, files flushed first. boards/desktop/ota-boot.js
     restarts with status 75, which the runner (host-shim/moddable/run.ts) takes as a
     reboot; the CLI tasks' main exits with the task's status.
   - XS's Math.random on lin/mac/win is the C library's rand(), which Moddable never
     seeds (xs/platforms/lin_xs.c), so every process would draw the same numbers: the
     same MQTT client ids (the broker then drops one of two clients), CoAP tokens and
     message ids. On the ESP32 it is the hardware RNG. Seeding here, when the host
     loads mc.so, from the operating system's entropy (getentropy; the clock and
     process id only if that fails), makes each process (each boot) draw its own.
   - trace() output goes to stdout, which the C library buffers by blocks when it is
     a pipe: a runner would see a boot's lines only when it ends. Line buffering
     here, as a serial console shows them. */
#include "xsmc.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <sys/random.h>
#endif

__attribute__((constructor)) static void moteDesktopInit(void)
{
	unsigned seed;
	if (getentropy(&seed, sizeof(seed)) != 0) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		seed = (unsigned)(now.tv_sec ^ now.tv_nsec ^ ((unsigned)getpid() << 16));
	}
	srand(seed);
	setvbuf(stdout, NULL, _IOLBF, 0);
}

void xs_mote_exit(xsMachine *the)
{
	int status = (xsmcArgc > 0) ? xsmcToInteger(xsArg(0)) : 0;
	fflush(NULL);
	exit(status);
}
