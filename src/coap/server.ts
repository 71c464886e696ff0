/**
 * Small CoAP server over one UDP socket: a `ResourceTable` (resources.ts)
 * behind a `CoapEndpoint` (endpoint.ts). Handlers may answer synchronously
 * (piggybacked in the ACK) or with a promise (an empty ACK first if they take
 * longer than the piggyback window, then a separate response, RFC 7252 §5.2.2).
 */
import { MoteError } from "../errors.js";
import { ResponseCode } from "./codec.js";
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

export class CoapServer {
  readonly resources: ResourceTable;
  readonly #driver: EndpointDriver;
  readonly #confirmable: boolean | undefined;
  #notifications = 0;

  constructor(options: ServerOptions) {
    const { host, port, address, maxResources, maxObservers, blockSize, maxUploads, maxUploadBytes, confirmableNotifications, ...ep } = options;
    this.resources = new ResourceTable({ maxResources, maxObservers, blockSize, maxUploads, maxUploadBytes });
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
    this.#run(route.handler, route.request, (result) => {
      if (!this.#driver.closed) this.#driver.feed({ type: "respond", exchange: a.exchange, response: this.resources.complete(route, result) });
    });
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
