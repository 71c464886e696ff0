/* mote/process for Moddable's desktop targets: exit(status) ends the process, files
   flushed first. boards/desktop/ota-boot.js restarts with status 75, which the runner
   (test/helpers/moddable.ts) takes as a reboot; the CLI tasks' main exits with theirs. */
#include "xsmc.h"
#include <stdio.h>
#include <stdlib.h>

void xs_mote_exit(xsMachine *the)
{
	int status = (xsmcArgc > 0) ? xsmcToInteger(xsArg(0)) : 0;
	fflush(NULL);
	exit(status);
}
