/**
 * The sans-I/O CoAP cores alone: a client endpoint and a server endpoint with a
 * resource table, wired back to back in memory, downloading `size` bytes of
 * `/big` with Block2. No sockets, no timers, no bridge: the protocol code's own
 * cost. Used inside XS by test/xs/coap-entry.ts and bench/coap-moddable-entry.ts.
 * Returns the bytes the client received; at most `maxSteps` datagrams are moved.
 */
import { CoapEndpoint, type EndpointAction } from "../../src/coap/endpoint.js";
import { ResourceTable } from "../../src/coap/resources.js";
import { Method, pathOptions } from "../../src/coap/codec.js";

export function coapCoreDownload(size: number, maxSteps: number): number {
  const table = new ResourceTable();
  const body = new Uint8Array(1024);
  table.add({ path: "/big", handlers: { GET: () => ({ payload: { size, read: (_o: number, n: number) => body.subarray(0, n) } }) } });
  let seed = 1;
  const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const client = new CoapEndpoint({ random });
  const server = new CoapEndpoint({ random });
  const cPeer = { address: "10.0.0.2", port: 1 };
  const sPeer = { address: "10.0.0.1", port: 5683 };
  let bytes = 0;
  let done = false;
  const queue: { to: "c" | "s"; data: Uint8Array }[] = [];
  const run = (from: "c" | "s", acts: EndpointAction[]): void => {
    for (const x of acts) {
      if (x.type === "send") queue.push({ to: from === "c" ? "s" : "c", data: x.data });
      else if (x.type === "block") bytes += x.data.length;
      else if (x.type === "response" || x.type === "failed") done = true;
      else if (x.type === "incoming") {
        const route = table.route(x.peer, x.request);
        const response = route.kind === "response" ? route.response : table.complete(route, route.handler(route.request) as never);
        run("s", server.handle({ type: "respond", exchange: x.exchange, response }, 0));
      }
    }
  };
  run("c", client.handle({ type: "request", id: 1, peer: sPeer, request: { method: Method.GET, options: pathOptions("/big"), stream: true } }, 0));
  for (let i = 0; i < maxSteps && !done && queue.length > 0; i++) {
    const p = queue.shift()!;
    if (p.to === "s") run("s", server.handle({ type: "datagram", peer: cPeer, data: p.data }, 0));
    else run("c", client.handle({ type: "datagram", peer: sPeer, data: p.data }, 0));
  }
  return bytes;
}
