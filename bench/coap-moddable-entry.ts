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
 *  - raw: the bare loop on the host's socket itself, without src/platform's wrapper;
 *  - core: the sans-I/O endpoints alone, client and server back to back in memory
 *    (no socket, no timer), both ends' protocol work;
 *  - parts (a diagnostic the bench does not ask for): decode, encode and the client
 *    endpoint alone, each 1,024 times, one "coap-part <name> <ms>" line each.
 */
import Preference from "preference";
import UDP from "embedded:io/socket/udp";
import { CoapClient } from "../src/coap/client.js";
import { Method, Option, decodeMessage, encodeBlock, encodeMessage, pathOptions } from "../src/coap/codec.js";
import { CoapEndpoint, type EndpointAction } from "../src/coap/endpoint.js";
import { platformHost } from "../src/coap/host.js";
import { openUdp, type DatagramSocket } from "../src/platform/udp.js";
import { coapCoreDownload } from "../test/helpers/coap-core-download.js";

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
function bareRound(raw = false): void {
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
  const onPacket = (data: Uint8Array): void => {
      // payload after the 0xff marker
      let i = 4 + (data[0] & 15);
      while (i < data.length && data[i] !== 0xff) i++;
      bytes += data.length - i - 1;
      num++;
      if (bytes >= SIZE || num >= 2048) {
        sock.close();
        report(raw ? "raw" : "bare", start, bytes);
      } else send();
  };
  const sock: DatagramSocket = raw ? rawSocket(onPacket) : openUdp({ onPacket });
  send();
}

/** The host's socket without src/platform's wrapper (no argument checks): what the wrapper costs. */
function rawSocket(onPacket: (data: Uint8Array) => void): DatagramSocket {
  let closed = false;
  const host = new UDP({
    onReadable() {
      for (let i = 0; i < 64 && !closed; i++) {
        const p = this.read() as ArrayBuffer | undefined;
        if (p === undefined) break;
        onPacket(new Uint8Array(p));
      }
    },
  } as ConstructorParameters<typeof UDP>[0]);
  return {
    port: 0,
    send: (data, address, port) => host.write(data, address, port),
    close: () => {
      closed = true;
      (host as unknown as { close(): void }).close();
    },
  };
}

function coreRound(): void {
  const start = Date.now();
  const bytes = coapCoreDownload(SIZE, 100_000);
  report("core", start, bytes);
}

/**
 * Where the client's time goes, in the same XS: 1,024 × decodeMessage of a 1 KiB
 * Block2 response, encodeMessage of a Block2 request, and the client endpoint alone
 * answered from a template (mid, token and block number patched in: no server work).
 * One line per part: "coap-part <name> <ms>".
 */
function partsRound(): void {
  const body = new Uint8Array(1024);
  const response = encodeMessage({
    type: "ACK",
    code: 69,
    messageId: 1,
    token: new Uint8Array([1, 2, 3, 4]),
    options: [{ number: Option.Block2, value: encodeBlock({ num: 0x1234, more: true, szx: 6 }) }],
    payload: body,
  });
  let t = Date.now();
  for (let i = 0; i < 1024; i++) decodeMessage(response);
  trace(`coap-part decode ${Date.now() - t}\n`);
  const request = { type: "CON" as const, code: 1, messageId: 1, token: new Uint8Array([1, 2, 3, 4]), options: pathOptions("/bench1m"), payload: new Uint8Array(0) };
  t = Date.now();
  for (let i = 0; i < 1024; i++) encodeMessage({ ...request, options: [...request.options, { number: Option.Block2, value: encodeBlock({ num: i, more: false, szx: 6 }) }] });
  trace(`coap-part encode ${Date.now() - t}\n`);
  let seed = 1;
  const c = new CoapEndpoint({ random: (): number => (seed = (seed * 48271) % 2147483647) / 2147483647 });
  const peer = { address: "10.0.0.1", port: 5683 };
  let bytes = 0;
  let pending: Uint8Array | undefined;
  const take = (acts: EndpointAction[]): void => {
    for (const a of acts) {
      if (a.type === "send") pending = a.data;
      else if (a.type === "block") bytes += a.data.length;
    }
  };
  t = Date.now();
  take(c.handle({ type: "request", id: 1, peer, request: { method: Method.GET, options: pathOptions("/bench1m"), stream: true } }, 0));
  for (let n = 0; n < 1024 && pending !== undefined; n++) {
    const req = pending;
    pending = undefined;
    const r = response.slice();
    r[2] = req[2];
    r[3] = req[3];
    r.set(req.subarray(4, 8), 4); // token (4 bytes)
    const v = (n << 4) | ((n < 1023 ? 1 : 0) << 3) | 6;
    // Block2 (23): delta nibble 13 + one extended byte, then its 3-byte value at 10..12
    r[10] = v >> 16;
    r[11] = (v >> 8) & 0xff;
    r[12] = v & 0xff;
    take(c.handle({ type: "datagram", peer, data: r }, 0));
  }
  trace(`coap-part client-endpoint ${Date.now() - t} ${bytes}\n`);
}

openUdp({
  port: control,
  address: "127.0.0.1",
  onPacket(data) {
    const kind = String.fromCharCode(...data);
    if (kind === "mote") moteRound();
    else if (kind === "bare") bareRound();
    else if (kind === "raw") bareRound(true);
    else if (kind === "core") coreRound();
    else if (kind === "parts") partsRound();
  },
});
trace(`coap-ready\n`);
