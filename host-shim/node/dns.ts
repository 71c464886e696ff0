/**
 * Node twin of `embedded:network/dns/resolver/udp` (ECMA-419 DNS resolver as
 * in Moddable's modules/network/dns): one resolver, many
 * `resolve({ host, onResolved(host, address), onError(host, error) })`
 * requests, each answered asynchronously with one IPv4 address (A record)
 * or an error. Resolution goes through the OS resolver (node:dns lookup,
 * IPv4 only, as the device asks for A records). At most MAX_PENDING lookups
 * run at once; more throw, like the lwip DNS table when it is full.
 */
import { lookup } from "node:dns";
import { causeOf, hostError } from "./tcp.js";

export const MAX_PENDING = 8;

export interface ResolveRequest {
  host: string;
  onResolved(this: unknown, host: string, address: string): void;
  onError(this: unknown, host: string, error?: Error): void;
}

export default class Resolver {
  #pending = 0;
  #closed = false;

  constructor(_options: { socket?: unknown; servers?: string[] } = {}) {}

  resolve(request: ResolveRequest): void {
    if (this.#closed) throw new Error("closed");
    const host = String(request.host);
    if (this.#pending >= MAX_PENDING) throw new Error("too many pending lookups");
    this.#pending++;
    lookup(host, { family: 4 }, (error, address) => {
      this.#pending--;
      if (this.#closed) return;
      if (error !== null) {
        const cause = causeOf(error);
        request.onError.call(request, host, hostError(cause === "error" ? "dns" : cause, error.message));
      } else request.onResolved.call(request, host, address);
    });
  }

  close(): void {
    this.#closed = true;
  }
}
