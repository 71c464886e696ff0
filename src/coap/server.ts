/**
 * Small CoAP server over one UDP socket: a `ResourceTable` (resources.ts)
 * behind a `CoapEndpoint` (endpoint.ts). Handlers may answer synchronously
 * (piggybacked in the ACK) or with a promise (an empty ACK first if they take
 * longer than the piggyback window, then a separate response, RFC 7252 §5.2.2).
 *
 * Block1 and Block2 on one request (RFC 7959 §2.7): when the handler's answer
 * to a request that is not a GET — a Block1 upload, typically — is larger than
 * a block, the client fetches the rest with body-less requests carrying Block2
 * (num > 0). Those must not run the handler again (a POST is not idempotent,
 * and the body is gone): the result is kept, per peer, resource and method,
 * and each follow-up is answered from it. At most `maxUploads` results are
 * kept (the oldest goes first: its client's next follow-up gets 4.08 Request
 * Entity Incomplete, §2.9.2, and must ask again); one is dropped when its last
 * block is served or when the same peer starts a new request on that resource.
 */
import { MoteError } from "../errors.js";
import { Method, Option, ResponseCode, decodeBlock, optionBlock, optionStrings, type CoapMessage } from "./codec.js";
import { EndpointDriver, type CoapHost } from "./driver.js";
import type { EndpointAction, EndpointOptions } from "./endpoint.js";
import { ResourceTable, type ResourceDefinition, type ResourceTableOptions, type ServerResult } from "./resources.js";

export interface ServerOptions extends Omit<EndpointOptions, "random">, ResourceTableOptions {
  host: CoapHost;
  /** UDP port (default 5683; 0 = any free port). */
  port?: number;
  address?: string;
  /** Send notifications as CON (default: NON, with every 8th as CON, RFC 7641 §4.5). */
  confirmableNotifications?: boolean;
}

/** Where a kept result belongs: peer, method and resource. */
function resultKey(peer: { address: string; port: number }, m: CoapMessage): string {
  return `${peer.port}/${peer.address}/${m.code}/${optionStrings(m, Option.UriPath).join("/")}`;
}

export class CoapServer {
  readonly resources: ResourceTable;
  readonly #driver: EndpointDriver;
  readonly #confirmable: boolean | undefined;
  #notifications = 0;
  /** Results whose Block2 blocks are still being fetched (RFC 7959 §2.7); insertion order = age. */
  readonly #kept = new Map<string, ServerResult>();
  readonly #maxKept: number;

  constructor(options: ServerOptions) {
    const { host, port, address, maxResources, maxObservers, blockSize, maxUploads, maxUploadBytes, confirmableNotifications, ...ep } = options;
    this.resources = new ResourceTable({ maxResources, maxObservers, blockSize, maxUploads, maxUploadBytes });
    this.#maxKept = maxUploads ?? 4;
    this.#confirmable = confirmableNotifications;
    this.#driver = new EndpointDriver(host, { ...ep, port: port ?? 5683, address }, (a) => this.#onAction(a));
  }

  get port(): number {
    return this.#driver.port;
  }

  /** Adds (or replaces) a resource. */
  add(resource: ResourceDefinition): this {
    this.resources.add(resource);
    return this;
  }

  /** Sends the current representation of `path` to each of its observers (RFC 7641 §4.2). */
  notify(path: string): void {
    if (this.#driver.closed) throw new MoteError("closed", "server is closed");
    for (const o of this.resources.observersOf(path)) {
      const route = this.resources.route(o.peer, o.request.message);
      if (route.kind !== "handler") continue;
      this.#run(route.handler, o.request, (result) => {
        if (this.#driver.closed) return;
        const response = this.resources.notification(o, result);
        // §4.5: a CON now and then tells us whether the observer is still there.
        const confirmable = this.#confirmable ?? ++this.#notifications % 8 === 0;
        this.#driver.feed({ type: "notify", peer: o.peer, token: o.token, response, confirmable });
        if (response.code >> 5 !== 2) this.resources.removeObserver(o.peer, o.token); // §4.2: an error ends it
      });
    }
  }

  close(): void {
    this.#driver.close();
  }

  #onAction(a: EndpointAction): void {
    if (a.type === "observer-gone") {
      this.resources.removeObserver(a.peer, a.token);
      return;
    }
    if (a.type !== "incoming") return;
    const route = this.resources.route(a.peer, a.request);
    if (route.kind === "response") {
      this.#driver.feed({ type: "respond", exchange: a.exchange, response: route.response });
      return;
    }
    const m = a.request;
    const key = m.code === Method.GET ? undefined : resultKey(a.peer, m);
    if (key !== undefined) {
      const b2 = optionBlock(m, Option.Block2);
      if (b2 !== undefined && b2.num > 0 && optionBlock(m, Option.Block1) === undefined) {
        // §2.7: a follow-up for a later block of a kept result; none kept (evicted,
        // or never made): 4.08, the client must send its request again (§2.9.2)
        const kept = this.#kept.get(key);
        const response = kept === undefined ? { code: ResponseCode.RequestEntityIncomplete } : this.resources.complete(route, kept);
        if (!hasMoreBlocks(response)) this.#kept.delete(key);
        this.#driver.feed({ type: "respond", exchange: a.exchange, response });
        return;
      }
      this.#kept.delete(key); // a new request on this resource: what was kept is stale
    }
    this.#run(route.handler, route.request, (result) => {
      if (this.#driver.closed) return;
      const response = this.resources.complete(route, result);
      if (key !== undefined && hasMoreBlocks(response)) this.#keep(key, result);
      this.#driver.feed({ type: "respond", exchange: a.exchange, response });
    });
  }

  #keep(key: string, result: ServerResult): void {
    if (this.#maxKept <= 0) return;
    while (this.#kept.size >= this.#maxKept) {
      const oldest = this.#kept.keys().next().value;
      if (oldest === undefined) break;
      this.#kept.delete(oldest);
    }
    this.#kept.set(key, result);
  }

  #run(handler: ResourceDefinition["handlers"]["GET"] & {}, req: Parameters<NonNullable<ResourceDefinition["handlers"]["GET"]>>[0], done: (r: ServerResult) => void): void {
    let result: ServerResult | Promise<ServerResult>;
    try {
      result = handler(req);
    } catch {
      done({ code: ResponseCode.InternalServerError });
      return;
    }
    if (result !== null && typeof result === "object" && typeof (result as Promise<ServerResult>).then === "function") {
      (result as Promise<ServerResult>).then(done, () => done({ code: ResponseCode.InternalServerError }));
    } else done(result as ServerResult);
  }
}

/** A response carrying Block2 with the M bit: more blocks to fetch. */
function hasMoreBlocks(r: { options?: { number: number; value: Uint8Array }[] }): boolean {
  const o = r.options?.find((x) => x.number === Option.Block2);
  return o !== undefined && decodeBlock(o.value)?.more === true;
}
