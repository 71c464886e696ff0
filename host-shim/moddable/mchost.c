/*
 * mchost: runs an mc.so that Moddable's `mcconfig -p lin` built, with no window.
 *
 * Moddable's desktop simulator (mcsim) is a GTK program that loads the
 * build's mc.so and hands it a txScreen (build/simulators/modules/screen.h):
 * the library calls back through that struct to print (post), to ask for a
 * periodic idle call (start/stop), and to give up (abort). Timers, sockets
 * and workers of the lin runtime all run on the GLib main loop. So a GLib
 * main loop and a txScreen with those callbacks filled in is a whole host:
 * everything the program traces goes to stdout, one line each.
 *
 *   npm run moddable:host           builds it into .moddable/bin/mchost
 *   mchost path/to/mc.so [seconds]  runs it; ends after `seconds` (default:
 *                                   until SIGINT/SIGTERM or the program quits)
 *
 * Exit status: the program's own (restart() on the desktop board exits 75),
 * 0 at the time limit or on SIGINT/SIGTERM, 2 for a bad mc.so, 3 when the
 * program does not start.
 */
#include <dlfcn.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "screen.h"

/* The framebuffer is never drawn; a small one keeps the struct valid. */
#define SCREEN_WIDTH 240
#define SCREEN_HEIGHT 320

static GMainLoop *mainLoop;
static guint idleTimer;

static gboolean runIdle(gpointer data)
{
	txScreen *screen = data;
	if (screen->idle)
		screen->idle(screen);
	return G_SOURCE_CONTINUE;
}

static void screenStart(txScreen *screen, double interval)
{
	if (idleTimer)
		g_source_remove(idleTimer);
	idleTimer = g_timeout_add(interval > 0 ? (guint)interval : 5, runIdle, screen);
}

static void screenStop(txScreen *screen)
{
	(void)screen;
	if (idleTimer)
		g_source_remove(idleTimer);
	idleTimer = 0;
}

/* trace() and the debugger's messages arrive here: print them as lines. */
static void screenPost(txScreen *screen, char *text, int length)
{
	(void)screen;
	size_t n = length > 0 ? (size_t)length : strlen(text);
	fwrite(text, 1, n, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

static void screenAbort(txScreen *screen, int status)
{
	(void)screen;
	fprintf(stderr, "mchost: abort %d\n", status);
	fflush(stdout);
	exit(status ? status : 1);
}

static void screenIgnore(txScreen *screen) { (void)screen; }

static gboolean endLoop(gpointer data)
{
	(void)data;
	g_main_loop_quit(mainLoop);
	return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: mchost path/to/mc.so [seconds]\n");
		return 2;
	}
	void *library = dlopen(argv[1], RTLD_NOW);
	if (!library) {
		fprintf(stderr, "mchost: %s\n", dlerror());
		return 2;
	}
	txScreenLaunchProc launch = (txScreenLaunchProc)dlsym(library, "fxScreenLaunch");
	if (!launch) {
		fprintf(stderr, "mchost: %s is not a Moddable lin build (%s)\n", argv[1], dlerror());
		return 2;
	}

	/* txScreen ends in a one-byte buffer that stands for the pixels. */
	txScreen *screen = calloc(1, sizeof(txScreen) + SCREEN_WIDTH * SCREEN_HEIGHT * screenBytesPerPixel);
	if (!screen) {
		fprintf(stderr, "mchost: out of memory\n");
		return 2;
	}
	screen->width = SCREEN_WIDTH;
	screen->height = SCREEN_HEIGHT;
	screen->abort = screenAbort;
	screen->post = screenPost;
	screen->start = screenStart;
	screen->stop = screenStop;
	screen->bufferChanged = screenIgnore;
	screen->formatChanged = screenIgnore;
	mxCreateMutex(&screen->workersMutex);

	mainLoop = g_main_loop_new(NULL, FALSE);
	launch(screen);
	if (!screen->quit) {
		fprintf(stderr, "mchost: the program did not start\n");
		return 3;
	}
	if (argc == 3) {
		long seconds = strtol(argv[2], NULL, 10);
		if (seconds > 0)
			g_timeout_add_seconds((guint)seconds, endLoop, NULL);
	}
	g_unix_signal_add(SIGINT, endLoop, NULL);
	g_unix_signal_add(SIGTERM, endLoop, NULL);
	g_main_loop_run(mainLoop);
	screen->quit(screen);
	return 0;
}
