/* test stub of Moddable's xsmc.h: the macros ota-boot.c uses, expanding as the real ones do */
#ifndef __XSMC_H__
#define __XSMC_H__
#include "xs.h"

#define xsmcTypeOf(_SLOT) fxTypeOf(the, &_SLOT)
#define xsmcToInteger(_SLOT) fxToInteger(the, &_SLOT)
#define xsmcToNumber(_SLOT) fxToNumber(the, &_SLOT)
#define xsmcToString(_SLOT) fxToString(the, &_SLOT)
#define xsmcToStringBuffer(_SLOT, _BUFFER, _SIZE) fxToStringBuffer(the, &_SLOT, _BUFFER, _SIZE)
#define xsmcSetString(_SLOT, _VALUE) fxString(the, &_SLOT, _VALUE)
#define xsmcSetUndefined(_SLOT) fxUndefined(the, &_SLOT)

mxImport xsIntegerValue _xsArgc(xsMachine *);
#define xsmcArgc _xsArgc(the)

mxImport xsIntegerValue _xsmcGetBuffer(xsMachine *the, xsSlot *slot, void **data, xsUnsignedValue *count, xsBooleanValue writable);
#define xsmcGetBuffer(_SLOT, data, count) _xsmcGetBuffer(the, &_SLOT, data, count, 0)
#define xsmcGetBufferReadable(_SLOT, data, count) _xsmcGetBuffer(the, &_SLOT, data, count, 0)
#define xsmcGetBufferWritable(_SLOT, data, count) _xsmcGetBuffer(the, &_SLOT, data, count, 1)

#endif
