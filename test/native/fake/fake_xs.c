#define _POSIX_C_SOURCE 200809L
/* A tiny stand-in for the XS machine: argument slots, result, throws as longjmp. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fake.h"

jmp_buf *fake_catch;
int fake_error;
char fake_message[256];

static void clear(xsSlot *slot)
{
	free(slot->string);
	free(slot->data);
	memset(slot, 0, sizeof(*slot));
}

void fake_reset_machine(xsMachine *the)
{
	int i;
	for (i = 0; i < 8; i++)
		clear(&the->args[i]);
	clear(&the->result);
	the->argc = 0;
}

static xsSlot *arg(xsMachine *the, int i)
{
	clear(&the->args[i]);
	if (the->argc < i + 1) the->argc = i + 1;
	return &the->args[i];
}

void fake_arg_undefined(xsMachine *the, int i) { arg(the, i)->kind = xsUndefinedType; }
void fake_arg_number(xsMachine *the, int i, double value)
{
	xsSlot *s = arg(the, i);
	s->kind = ((value >= -2147483648.0) && (value <= 2147483647.0) && (value == (double)(int32_t)value)) ? xsIntegerType : xsNumberType;	/* XS keeps small integers as integers */
	s->number = value;
}
void fake_arg_string(xsMachine *the, int i, const char *value) { xsSlot *s = arg(the, i); s->kind = xsStringType; s->string = strdup(value); }
void fake_arg_stringx(xsMachine *the, int i, const char *value) { xsSlot *s = arg(the, i); s->kind = xsStringXType; s->string = strdup(value); }
void fake_arg_buffer(xsMachine *the, int i, const uint8_t *data, uint32_t length)
{
	xsSlot *s = arg(the, i);
	s->kind = xsReferenceType;
	s->data = malloc(length ? length : 1);
	memcpy(s->data, data, length);
	s->length = length;
}

xsType fxTypeOf(xsMachine *the, xsSlot *slot) { (void)the; return slot->kind; }

xsNumberValue fxToNumber(xsMachine *the, xsSlot *slot)
{
	(void)the;
	if ((xsIntegerType == slot->kind) || (xsNumberType == slot->kind)) return slot->number;
	if ((xsStringType == slot->kind) || (xsStringXType == slot->kind)) return strtod(slot->string, NULL);
	return 0.0 / 0.0;
}

xsIntegerValue fxToInteger(xsMachine *the, xsSlot *slot) { return (xsIntegerValue)fxToNumber(the, slot); }

xsStringValue fxToString(xsMachine *the, xsSlot *slot)
{
	char buffer[64];
	(void)the;
	if ((xsStringType == slot->kind) || (xsStringXType == slot->kind)) return slot->string;
	if ((xsIntegerType == slot->kind) || (xsNumberType == slot->kind)) snprintf(buffer, sizeof(buffer), "%g", slot->number);
	else if (xsReferenceType == slot->kind) snprintf(buffer, sizeof(buffer), "[object ArrayBuffer]");
	else snprintf(buffer, sizeof(buffer), "undefined");
	free(slot->string);
	slot->string = strdup(buffer);
	slot->kind = xsStringType;
	return slot->string;
}

xsStringValue fxToStringBuffer(xsMachine *the, xsSlot *slot, xsStringValue buffer, xsIntegerValue size)
{
	char *s = fxToString(the, slot);
	if ((xsIntegerValue)strlen(s) >= size) fxThrowMessage(the, NULL, 0, XS_RANGE_ERROR, "Cannot buffer string");
	strcpy(buffer, s);
	return buffer;
}

void fxString(xsMachine *the, xsSlot *slot, xsStringValue value)
{
	(void)the;
	char *copy = strdup(value);		/* value may be slot->string */
	clear(slot);
	slot->kind = xsStringType;
	slot->string = copy;
}

void fxUndefined(xsMachine *the, xsSlot *slot) { (void)the; clear(slot); }

xsIntegerValue _xsArgc(xsMachine *the) { return the->argc; }

xsIntegerValue _xsmcGetBuffer(xsMachine *the, xsSlot *slot, void **data, xsUnsignedValue *count, xsBooleanValue writable)
{
	(void)writable;
	if (xsReferenceType != slot->kind) fxThrowMessage(the, NULL, 0, XS_TYPE_ERROR, "not a buffer");
	*data = slot->data;
	*count = slot->length;
	return 1;	/* xsBufferRelocatable: the caller must not keep the pointer */
}

void fxThrowMessage(xsMachine *the, xsStringValue path, xsIntegerValue line, xsIntegerValue error, xsStringValue message, ...)
{
	va_list ap;
	(void)the; (void)path; (void)line;
	va_start(ap, message);
	vsnprintf(fake_message, sizeof(fake_message), message, ap);
	va_end(ap);
	fake_error = error;
	if (!fake_catch) { fprintf(stderr, "uncaught: %s\n", fake_message); abort(); }
	longjmp(*fake_catch, 1);
}
