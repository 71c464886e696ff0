/**
 * Build-time configuration: wraps Moddable's "mc/config" (the values given to
 * `mcconfig ssid=… password=…` and the manifest's "config" section). This is the
 * only file that names "mc/config" (DESIGN.md §6); src/runtime/load-config.ts
 * overlays the stored preferences on top.
 *
 * Values are read key by key into a plain object: in the simulator the module's
 * default export is a host object served through the bridge, on which only
 * property reads are cheap and meaningful.
 */
/// <reference path="../../node_modules/@moddable/typings/mc/config.d.ts" />
import config from "mc/config";

/** The build-time values of `keys` that are set (undefined ones omitted). */
export function buildTimeValues(keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const source = config as unknown as Record<string, unknown> | undefined;
  if (source === undefined || source === null) return out;
  for (const key of keys) {
    const v = source[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}
