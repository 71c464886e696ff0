/**
 * mote CoAP without the server (docs/coap.md, docs/size.md): the client
 * (RFC 7252 + Observe RFC 7641 + Block-wise RFC 7959 + discovery RFC 6690)
 * and its one-shot helpers. `index.ts` is this plus `CoapServer` /
 * `createServer` and `formatLinkFormat`; a device that only asks imports
 * from here and does not carry resources.ts / server.ts.
 *
 * The one-shot functions open a UDP socket per call and close it after; keep
 * a `createClient()` for many requests.
 */
import { CoapClient, type ClientOptions, type CoapResponse, type ObserveHandle, type RequestOptions } from "./client.js";
import type { CoapHost } from "./driver.js";
import type { UploadSource } from "./endpoint.js";
import { platformHost } from "./host.js";
import type { CoreLink } from "./linkformat.js";

export { CoapClient, CoapRequestError } from "./client.js";
export type { ClientOptions, CoapRequestErrorCode, CoapResponse, ObserveHandle, RequestOptions } from "./client.js";
export type { CoreLink } from "./linkformat.js";
export { parseLinkFormat } from "./linkformat.js";
export type { UploadSource } from "./endpoint.js";
export { CoapFormatError, ContentFormat, Method, Option, ResponseCode, codeText } from "./codec.js";
export type { CoapHost } from "./driver.js";

/** A client on its own UDP socket; close it when done. */
export function createClient(options: Omit<ClientOptions, "host"> & { host?: CoapHost } = {}): CoapClient {
  return new CoapClient({ ...options, host: options.host ?? platformHost() });
}

async function once<T>(f: (c: CoapClient) => Promise<T>, opts: { host?: CoapHost } = {}): Promise<T> {
  const c = createClient({ host: opts.host });
  try {
    return await f(c);
  } finally {
    c.close();
  }
}

export function request(url: string, opts: RequestOptions & { host?: CoapHost } = {}): Promise<CoapResponse> {
  return once((c) => c.request(url, opts), opts);
}
export function get(url: string, opts: RequestOptions & { host?: CoapHost } = {}): Promise<CoapResponse> {
  return once((c) => c.get(url, opts), opts);
}
export function download(
  url: string,
  onBlock: (data: Uint8Array, offset: number, more: boolean) => void,
  opts: RequestOptions & { host?: CoapHost } = {},
): Promise<CoapResponse> {
  return once((c) => c.download(url, onBlock, opts), opts);
}
export function upload(url: string, source: UploadSource | Uint8Array, opts: RequestOptions & { host?: CoapHost } = {}): Promise<CoapResponse> {
  return once((c) => c.upload(url, source, opts), opts);
}
export function discover(url: string, opts: RequestOptions & { host?: CoapHost } = {}): Promise<CoreLink[]> {
  return once((c) => c.discover(url, opts), opts);
}
/** Observes `url` on a client of its own, closed when the observation ends. */
export function observe(url: string, onNotify: (r: CoapResponse) => void, opts: RequestOptions & { host?: CoapHost } = {}): ObserveHandle {
  const c = createClient({ host: opts.host });
  const h = c.observe(url, onNotify, opts);
  h.ended.then(
    () => c.close(),
    () => c.close(),
  );
  return h;
}
