/**
 * mote CoAP: client (RFC 7252 + Observe RFC 7641 + Block-wise RFC 7959 +
 * discovery RFC 6690) and a small server, over the device's UDP.
 *
 *   import * as coap from "mote/coap";
 *   const r = await coap.get("coap://192.168.1.20/sensors/temp");
 *   const h = coap.observe("coap://192.168.1.20/time", (n) => trace(n.text()));
 *   await h.cancel();
 *
 * The client half lives in client-only.ts (an entry of its own for devices
 * that serve nothing: docs/size.md); this adds the server.
 */
import type { CoapHost } from "./driver.js";
import { platformHost } from "./host.js";
import { CoapServer, type ServerOptions } from "./server.js";

export * from "./client-only.js";
export { CoapServer } from "./server.js";
export type { ServerOptions } from "./server.js";
export type { BodySource, ResourceDefinition, ResourceHandler, ServerRequest, ServerResult } from "./resources.js";
export { formatLinkFormat } from "./linkformat.js";

/** A server listening on `port` (default 5683). */
export function createServer(options: Omit<ServerOptions, "host"> & { host?: CoapHost } = {}): CoapServer {
  return new CoapServer({ ...options, host: options.host ?? platformHost() });
}
