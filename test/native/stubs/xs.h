/* test stub of Moddable's xs.h: the subset ota-boot.c uses; slot/machine layouts are the fake's */
#ifndef __XS__
#define __XS__
#include <stdint.h>
#include <stddef.h>

typedef int8_t xsType;
typedef int8_t xsBooleanValue;
typedef int32_t xsIntegerValue;
typedef uint32_t xsUnsignedValue;
typedef double xsNumberValue;
typedef char *xsStringValue;
typedef int16_t xsIdentifier;

enum {
	xsUndefinedType,
	xsNullType,
	xsBooleanType,
	xsIntegerType,
	xsNumberType,
	xsStringType,
	xsStringXType,
	xsSymbolType,
	xsBigIntType,
	xsBigIntXType,
	xsReferenceType
};

enum {
	XS_NO_ERROR = 0,
	XS_UNKNOWN_ERROR,
	XS_EVAL_ERROR,
	XS_RANGE_ERROR,
	XS_REFERENCE_ERROR,
	XS_SYNTAX_ERROR,
	XS_TYPE_ERROR,
	XS_URI_ERROR,
	XS_ERROR_COUNT
};

/* fake layouts (test/native/fake/fake_xs.c) */
typedef struct xsSlotRecord {
	xsType kind;			/* xsUndefinedType, xsIntegerType, xsNumberType, xsStringType, xsReferenceType (buffer) */
	double number;
	char *string;
	uint8_t *data;
	xsUnsignedValue length;
} xsSlot;

typedef struct xsMachineRecord {
	xsSlot args[8];
	xsIntegerValue argc;
	xsSlot result;
	xsSlot scratch;
} xsMachine;

#define mxImport extern

mxImport xsType fxTypeOf(xsMachine *the, xsSlot *slot);
mxImport xsIntegerValue fxToInteger(xsMachine *the, xsSlot *slot);
mxImport xsNumberValue fxToNumber(xsMachine *the, xsSlot *slot);
mxImport xsStringValue fxToString(xsMachine *the, xsSlot *slot);
mxImport xsStringValue fxToStringBuffer(xsMachine *the, xsSlot *slot, xsStringValue buffer, xsIntegerValue size);
mxImport void fxString(xsMachine *the, xsSlot *slot, xsStringValue value);
mxImport void fxUndefined(xsMachine *the, xsSlot *slot);
mxImport void fxThrowMessage(xsMachine *the, xsStringValue path, xsIntegerValue line, xsIntegerValue error, xsStringValue message, ...) __attribute__((noreturn));

#define xsArg(_INDEX) (the->args[(_INDEX)])
#define xsResult (the->result)

#ifdef mxDebug
	#define xsUnknownError(...) fxThrowMessage(the, (char *)__FILE__, __LINE__, XS_UNKNOWN_ERROR, __VA_ARGS__)
	#define xsRangeError(...) fxThrowMessage(the, (char *)__FILE__, __LINE__, XS_RANGE_ERROR, __VA_ARGS__)
	#define xsTypeError(...) fxThrowMessage(the, (char *)__FILE__, __LINE__, XS_TYPE_ERROR, __VA_ARGS__)
#else
	#define xsUnknownError(...) fxThrowMessage(the, NULL, 0, XS_UNKNOWN_ERROR, __VA_ARGS__)
	#define xsRangeError(...) fxThrowMessage(the, NULL, 0, XS_RANGE_ERROR, __VA_ARGS__)
	#define xsTypeError(...) fxThrowMessage(the, NULL, 0, XS_TYPE_ERROR, __VA_ARGS__)
#endif

#endif
