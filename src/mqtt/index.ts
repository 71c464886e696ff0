/** mote MQTT client — public API (docs/mqtt.md): core.ts plus the persistent session stores. */
export * from "./core.js";
export { PreferenceSessionStore, MemorySessionStore } from "./store.js";
export type { SessionStore, PreferenceApi } from "./store.js";
