// Typings of the Moddable host modules wrapped in this folder, taken from
// @moddable/typings (tsconfig.json includes only its xs.d.ts). Modules the
// package lacks or types wrongly have their own .d.ts next to the wrapper
// (dns-resolver.d.ts).
/// <reference path="../../node_modules/@moddable/typings/timer.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/time.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/preference.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/net.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/instrumentation.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/debug.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/mc/config.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/_common.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/socket/tcp.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/socket/udp.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/socket/listener.d.ts" />
/// <reference path="../../node_modules/@moddable/typings/embedded_io/socket/tls.d.ts" />
