/**
 * The device side of the CoAP download benchmark on Moddable's own XS runtime
 * (mcconfig -m -i -p lin, headless mchost), run by bench/coap.ts. The program
 * reads the server's URL and a control port from its preferences
 * ("bench"/"url", "bench"/"control"), then waits for the bench to say which
 * round to run: each datagram on the control port ("mote", "bare" or "core")
 * starts one 1 MiB download and ends with one line
 *   "coap-round <kind> <ms> <bytes>"
 * so the bench can run libcoap's client between two rounds, never at the same
 * time (two cores, shared). Kinds:
 *  - mote: CoapClient.download() over src/platform (embedded:io/socket/udp, timer), the
 *    product path;
 *  - bare: the transport floor: the same 1,024 Block2 requests from a hand-written
 *    loop on the same platform socket (fixed request bytes, the block number patched
 *    in, no CoAP stack);
 *  - core: the sans-I/O endpoints alone, client and server back to back in memory
 *    (no socket, no timer), both ends' protocol work.
 */
import Preference from "preference";
import { CoapClient } from "../src/coap/client.js";
import { Method, pathOptions } from "../src/coap/codec.js";
import { CoapEndpoint, type EndpointAction } from "../src/coap/endpoint.js";
import { platformHost } from "../src/coap/host.js";
import { ResourceTable } from "../src/coap/resources.js";
import { openUdp, type DatagramSocket } from "../src/platform/udp.js";

declare const trace: (s: string) => void;

const SIZE = 1 << 20;
const url = String(Preference.get("bench", "url"));
const control = Number(Preference.get("bench", "control"));
const client = new CoapClient({ host: platformHost() });

function report(kind: string, start: number, bytes: number): void {
  trace(`coap-round ${kind} ${Date.now() - start} ${bytes}\n`);
}

function moteRound(): void {
  let bytes = 0;
  const start = Date.now();
  client.download(url, (d) => (bytes += d.length)).then(
    () => report("mote", start, bytes),
    (e: unknown) => trace(`coap-round mote failed ${String(e)}\n`),
  );
}

/**
 * One CON GET per block, 2-byte token and message id = block number, Block2
 * szx 6 (1024): a request template whose id, token and block number are patched.
 */
function bareRound(): void {
  const [, , hostPort, ...path] = url.split("/");
  const address = hostPort.split(":")[0];
  const port = Number(hostPort.split(":")[1]);
  // header (4) + token (2) + Uri-Path "bench1m" (1 + 7) + Block2 (delta 23-11=12: 1 + 3 bytes)
  const seg = path[0];
  const req = new Uint8Array(4 + 2 + 1 + seg.length + 4);
  req[0] = 0x42; // ver 1, CON, TKL 2
  req[1] = 0x01; // GET
  req[6] = (11 << 4) | seg.length; // Uri-Path
  for (let i = 0; i < seg.length; i++) req[7 + i] = seg.charCodeAt(i);
  const b = 7 + seg.length;
  req[b] = (12 << 4) | 3; // Block2, 3-byte value
  let num = 0;
  let bytes = 0;
  const start = Date.now();
  const send = (): void => {
    req[2] = req[4] = num >> 8;
    req[3] = req[5] = num & 0xff;
    // Block2 value: NUM << 4 | M << 3 | SZX (RFC 7959 §2.2), 3 bytes
    const v = (num << 4) | 6;
    req[b + 1] = v >> 16;
    req[b + 2] = (v >> 8) & 0xff;
    req[b + 3] = v & 0xff;
    sock.send(req, address, port);
  };
  const sock: DatagramSocket = openUdp({
    onPacket(data) {
      // payload after the 0xff marker
      let i = 4 + (data[0] & 15);
      while (i < data.length && data[i] !== 0xff) i++;
      bytes += data.length - i - 1;
      num++;
      if (bytes >= SIZE || num >= 2048) {
        sock.close();
        report("bare", start, bytes);
      } else send();
    },
  });
  send();
}

function coreRound(): void {
  const table = new ResourceTable();
  const body = new Uint8Array(1024);
  table.add({ path: "/big", handlers: { GET: () => ({ payload: { size: SIZE, read: (_o: number, n: number) => body.subarray(0, n) } }) } });
  let seed = 1;
  const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const c = new CoapEndpoint({ random });
  const s = new CoapEndpoint({ random });
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
        run("s", s.handle({ type: "respond", exchange: x.exchange, response }, 0));
      }
    }
  };
  const start = Date.now();
  run("c", c.handle({ type: "request", id: 1, peer: sPeer, request: { method: Method.GET, options: pathOptions("/big"), stream: true } }, 0));
  for (let i = 0; i < 100_000 && !done && queue.length > 0; i++) {
    const p = queue.shift()!;
    if (p.to === "s") run("s", s.handle({ type: "datagram", peer: cPeer, data: p.data }, 0));
    else run("c", c.handle({ type: "datagram", peer: sPeer, data: p.data }, 0));
  }
  report("core", start, bytes);
}

openUdp({
  port: control,
  address: "127.0.0.1",
  onPacket(data) {
    const kind = String.fromCharCode(...data);
    if (kind === "mote") moteRound();
    else if (kind === "bare") bareRound();
    else if (kind === "core") coreRound();
  },
});
trace(`coap-ready\n`);
