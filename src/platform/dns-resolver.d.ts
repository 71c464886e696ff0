// ECMA-419 2nd ed. §"DNS resolver" as implemented by Moddable's
// modules/network/dns (embedded:network/dns/resolver/udp). The typings in
// @moddable/typings declare the callbacks as returning null; this is the shape
// the module really has: one resolver object, many resolve() requests.
declare module "embedded:network/dns/resolver/udp" {
  export interface ResolveRequest {
    host: string;
    onResolved(this: unknown, host: string, address: string): void;
    onError(this: unknown, host: string, error?: Error): void;
  }
  export default class Resolver {
    constructor(options: { socket?: { io: unknown }; servers?: string[] });
    resolve(request: ResolveRequest): void;
    close(): void;
  }
}
