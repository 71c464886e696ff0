/*
 * mote's `embedded:io/socket/udp` for Moddable's desktop runtime (lin): the
 * ECMA-419 UDP socket (§10.5) woken by the GLib main loop when a datagram
 * arrives, as lwip's udp_recv callback wakes the one on the ESP32.
 *
 * Why not Moddable's own (modules/io/socket/lin/udp.c): it polls the socket
 * every 20 ms and takes one datagram per poll, so any request/response
 * exchange costs at least 20 ms a round trip (a 1 MiB CoAP Block2 download,
 * 1,024 round trips, took 21 s there; bench/RESULTS.md, coap). The device does
 * not behave like that, so the desktop runtime would mislead every timing.
 *
 * The JavaScript side is udp.js (the class); the natives are below:
 *   new UDP({ port, address, onReadable, format: "buffer" }) binds (IPv4);
 *   read() returns the oldest datagram as an ArrayBuffer with `address` and
 *   `port` properties, or undefined; write(data, address, port) sends one;
 *   close() ends it. Datagrams wait in a queue of at most kMaxPackets; when it
 *   is full new ones are dropped, as lwip drops them when its pbufs run out.
 */

#include "xsmc.h"
#include "mc.xs.h" // xsID_* values
#include "builtinCommon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define kMaxPackets (32)
/* Datagrams taken from the kernel per wake-up, so one busy socket cannot hold the loop. */
#define kMaxReadsPerWake (64)

typedef struct PacketRecord {
	struct PacketRecord *next;
	uint16_t port;
	char address[INET_ADDRSTRLEN];
	int length;
	uint8_t data[];
} PacketRecord, *Packet;

typedef struct {
	int skt;
	guint watch; /* GLib source of the socket's "readable" watch; 0 when none */
	int useCount;
	uint8_t done;
	uint16_t port;
	xsMachine *the;
	xsSlot obj;
	xsSlot *onReadable;
	Packet first;
	Packet last;
	int count;
} UDPRecord, *UDP;

static void moteUdpMark(xsMachine *the, void *it, xsMarkRoot markRoot);
void xs_moteudp_destructor(void *data);

static const xsHostHooks moteUdpHooks = {
	xs_moteudp_destructor,
	moteUdpMark,
	NULL
};

static void udpRelease(UDP udp)
{
	if (--udp->useCount <= 0)
		xs_moteudp_destructor(udp);
}

/* The socket is readable: queue what the kernel holds (bounded), then tell the program once. */
static gboolean udpReadable(gint fd, GIOCondition condition, gpointer data)
{
	UDP udp = data;
	(void)condition;
	for (int i = 0; i < kMaxReadsPerWake && !udp->done; i++) {
		uint8_t buffer[2048];
		struct sockaddr_in from;
		socklen_t fromLength = sizeof(from);
		ssize_t n = recvfrom(fd, buffer, sizeof(buffer), MSG_DONTWAIT, (struct sockaddr *)&from, &fromLength);
		if (n < 0)
			break; /* EAGAIN: drained (an ICMP error also lands here: this socket does not report it) */
		if (udp->count >= kMaxPackets)
			continue; /* full: dropped */
		Packet packet = malloc(sizeof(PacketRecord) + n);
		if (!packet)
			continue;
		packet->next = NULL;
		packet->port = ntohs(from.sin_port);
		inet_ntop(AF_INET, &from.sin_addr, packet->address, sizeof(packet->address));
		packet->length = (int)n;
		memcpy(packet->data, buffer, n);
		if (udp->last)
			udp->last->next = packet;
		else
			udp->first = packet;
		udp->last = packet;
		udp->count++;
	}
	if (udp->count > 0 && udp->onReadable && !udp->done) {
		udp->useCount++; /* the callback may close the socket: free it only after */
		xsBeginHost(udp->the);
			xsmcSetInteger(xsResult, udp->count);
			xsCallFunction1(xsReference(udp->onReadable), udp->obj, xsResult);
		xsEndHost(the);
		udpRelease(udp);
	}
	return G_SOURCE_CONTINUE;
}

void xs_moteudp_constructor(xsMachine *the)
{
	UDP udp = NULL;
	int port = 0;
	struct sockaddr_in address = {0};

	xsmcVars(1);
	if (kIOFormatBuffer != builtinInitializeFormat(the, kIOFormatBuffer))
		xsRangeError("unimplemented");
	xsSlot *onReadable = builtinGetCallback(the, xsID_onReadable);

	if (xsmcHas(xsArg(0), xsID_port)) {
		xsmcGet(xsVar(0), xsArg(0), xsID_port);
		port = xsmcToInteger(xsVar(0));
		if ((port < 0) || (port > 65535))
			xsRangeError("invalid port");
	}
	address.sin_family = AF_INET;
	address.sin_port = htons(port);
	address.sin_addr.s_addr = htonl(INADDR_ANY);
	if (xsmcHas(xsArg(0), xsID_address)) {
		xsmcGet(xsVar(0), xsArg(0), xsID_address);
		if (1 != inet_pton(AF_INET, xsmcToString(xsVar(0)), &address.sin_addr))
			xsRangeError("invalid address");
	}

	udp = calloc(1, sizeof(UDPRecord));
	if (!udp)
		xsRangeError("no memory");
	udp->skt = -1;
	xsmcSetHostData(xsThis, udp);
	xsTry {
		udp->skt = socket(AF_INET, SOCK_DGRAM, 0);
		if (udp->skt < 0)
			xsUnknownError("no socket");
		fcntl(udp->skt, F_SETFL, O_NONBLOCK | fcntl(udp->skt, F_GETFL, 0));
		if (0 != bind(udp->skt, (struct sockaddr *)&address, sizeof(address)))
			xsUnknownError("bind failed: %s", strerror(errno)); /* "Address already in use": src/platform/udp.ts says address-in-use */
		struct sockaddr_in bound;
		socklen_t boundLength = sizeof(bound);
		if (0 == getsockname(udp->skt, (struct sockaddr *)&bound, &boundLength))
			udp->port = ntohs(bound.sin_port);

		xsSetHostHooks(xsThis, (xsHostHooks *)&moteUdpHooks);
		udp->the = the;
		udp->obj = xsThis;
		xsRemember(udp->obj);
		udp->useCount = 1;
		builtinInitializeTarget(the);
		udp->onReadable = onReadable;
		udp->watch = g_unix_fd_add(udp->skt, G_IO_IN, udpReadable, udp);
	}
	xsCatch {
		xsmcSetHostData(xsThis, NULL);
		xs_moteudp_destructor(udp);
		xsThrow(xsException);
	}
}

void xs_moteudp_destructor(void *data)
{
	UDP udp = data;
	if (!udp)
		return;
	if (udp->watch)
		g_source_remove(udp->watch);
	udp->watch = 0;
	if (udp->skt >= 0)
		close(udp->skt);
	udp->skt = -1;
	while (udp->first) {
		Packet next = udp->first->next;
		free(udp->first);
		udp->first = next;
	}
	free(udp);
}

void xs_moteudp_close(xsMachine *the)
{
	UDP udp = xsmcGetHostData(xsThis);
	if (udp && xsmcGetHostDataValidate(xsThis, (void *)&moteUdpHooks)) {
		udp->done = 1;
		if (udp->watch)
			g_source_remove(udp->watch);
		udp->watch = 0;
		xsmcSetHostData(xsThis, NULL);
		xsForget(udp->obj);
		xsmcSetHostDestructor(xsThis, NULL);
		udpRelease(udp);
	}
}

void xs_moteudp_read(xsMachine *the)
{
	UDP udp = xsmcGetHostDataValidate(xsThis, (void *)&moteUdpHooks);
	Packet packet = udp->first;
	if (!packet)
		return;
	xsmcSetArrayBuffer(xsResult, packet->data, packet->length);
	xsmcVars(1);
	xsmcSetInteger(xsVar(0), packet->port);
	xsmcSet(xsResult, xsID_port, xsVar(0));
	xsVar(0) = xsString(packet->address);
	xsmcSet(xsResult, xsID_address, xsVar(0));
	udp->first = packet->next;
	if (!udp->first)
		udp->last = NULL;
	udp->count--;
	free(packet);
}

void xs_moteudp_write(xsMachine *the)
{
	UDP udp = xsmcGetHostDataValidate(xsThis, (void *)&moteUdpHooks);
	void *buffer;
	xsUnsignedValue length;
	struct sockaddr_in to = {0};

	xsmcGetBufferReadable(xsArg(0), &buffer, &length);
	to.sin_family = AF_INET;
	if (1 != inet_pton(AF_INET, xsmcToString(xsArg(1)), &to.sin_addr))
		xsUnknownError("unreachable: not an IPv4 address");
	int port = xsmcToInteger(xsArg(2));
	if ((port <= 0) || (port > 65535))
		xsRangeError("invalid port");
	to.sin_port = htons(port);
	if (sendto(udp->skt, buffer, length, 0, (const struct sockaddr *)&to, sizeof(to)) < 0)
		xsUnknownError("sendto failed: %s", strerror(errno));
}

void xs_moteudp_get_port(xsMachine *the)
{
	UDP udp = xsmcGetHostDataValidate(xsThis, (void *)&moteUdpHooks);
	xsmcSetInteger(xsResult, udp->port);
}

static void moteUdpMark(xsMachine *the, void *it, xsMarkRoot markRoot)
{
	UDP udp = it;
	if (udp->onReadable)
		(*markRoot)(the, udp->onReadable);
}
