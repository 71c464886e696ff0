/** Moddable's `mqtt/js` (examples/io/tcp/mqtt/mqtt.js): its MQTT.js-style wrapper on the ECMA-419 client. */
declare module "mqtt/js" {
  export function connect(url: string, options?: Record<string, unknown>): unknown;
}
