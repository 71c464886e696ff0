/**
 * Node twin of `embedded:io/socket/udp` (ECMA-419 UDP socket, Moddable lwip
 * behaviour): `new UDP({ port, address, onReadable(packets), onError })`
 * binds at once (`port` known when the constructor returns; a port in use
 * throws "address-in-use: ..." there, as lwip's udp_bind fails);
 * `read()` returns the oldest datagram as an ArrayBuffer carrying `address`
 * and `port` properties; `write(data, address, port)` sends one datagram to
 * an IP address. Received datagrams wait in a queue of at most QUEUE_LIMIT
 * packets; when it is full new ones are dropped, as lwip drops them when its
 * pbufs run out.
 *
 * With no `address` the socket is dual-stack (IPv6 "::" taking IPv4 too, as
 * lwip's IP_ANY_TYPE pcb): it reaches `::1` and `127.0.0.1` alike, and IPv4
 * peers read as plain dotted quads. A host without IPv6 gets "0.0.0.0".
 *
 * ICMP errors (RFC 1122 §4.1.3.3: port unreachable reaches UDP as
 * ECONNREFUSED) come only to a connected socket on Linux. So a socket that
 * writes before it has received anything, to one unicast peer, is connected
 * to that peer, as libcoap does for a client session: an ICMP port
 * unreachable then reaches `onError` ("refused: ..."). The first write to a
 * second peer disconnects it again; a socket that received first (a server)
 * is never connected.
 */
import dgram from "node:dgram";
import net from "node:net";
import { trackHandle, untrackHandle } from "./hardware.js";
import { causeOf, hostError } from "./tcp.js";

/** Datagrams held for `read()`; beyond it new ones are dropped. */
export const QUEUE_LIMIT = 32;

export type Datagram = ArrayBuffer & { address: string; port: number };

export interface UdpOptions {
  port?: number;
  address?: string;
  onReadable?: (this: UDP, packets: number) => void;
  onError?: (this: UDP, error?: Error) => void;
  format?: "buffer";
  target?: unknown;
}

/** Datagrams dropped because the queue was full (all sockets; for tests). */
const counters = { dropped: 0 };
export function udpDroppedCount(): number {
  return counters.dropped;
}

export default class UDP {
  readonly format = "buffer";
  port: number;
  target: unknown;
  #socket: dgram.Socket;
  #queue: Datagram[] = [];
  #onReadable: UdpOptions["onReadable"];
  #onError: UdpOptions["onError"];
  #scheduled = false;
  #closed = false;
  #sending = 0; // sends not yet handed to the kernel: close() waits for them, as lwip sends synchronously
  #closer = { close: () => this.close() };
  /** Bound to port 0: a client's socket, which may be connected (see above). */
  #ephemeral: boolean;
  #dualStack = false;
  #ipv6: boolean;
  #heard = false;
  #writes = 0;
  /** "address port" of the peer the socket is connected to. */
  #connected: string | undefined;

  constructor(options: UdpOptions) {
    const port = options.port ?? 0;
    if (options.address !== undefined && net.isIP(options.address) === 0) throw new Error("invalid address");
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError("invalid port");
    this.#onReadable = options.onReadable;
    this.#onError = options.onError;
    this.target = options.target;
    this.#ephemeral = port === 0;
    if (options.address !== undefined) this.#socket = bindSocket(options.address, port);
    else {
      try {
        this.#socket = bindSocket("::", port);
        this.#dualStack = true;
      } catch (e) {
        if ((e as { cause?: string }).cause === "address-in-use") throw e;
        this.#socket = bindSocket("0.0.0.0", port); // no IPv6 on this host
      }
    }
    this.#ipv6 = this.#socket.address().family === "IPv6";
    this.#socket.on("message", (data, info) => this.#received(data, info.address, info.port));
    this.#socket.on("error", (error: NodeJS.ErrnoException) => this.#failed(error));
    this.port = this.#socket.address().port;
    trackHandle(this.#closer);
  }

  #failed(error: NodeJS.ErrnoException): void {
    if (this.#closed) return;
    this.#onError?.call(this, hostError(causeOf(error), error.message));
  }

  #received(data: Buffer, address: string, port: number): void {
    if (this.#closed) return;
    this.#heard = true;
    if (this.#dualStack && address.startsWith("::ffff:") && net.isIPv4(address.slice(7))) address = address.slice(7);
    if (this.#queue.length >= QUEUE_LIMIT) {
      counters.dropped++;
      return;
    }
    const packet = new Uint8Array(data).buffer as Datagram; // a copy of exactly this datagram
    packet.address = address;
    packet.port = port;
    this.#queue.push(packet);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        if (!this.#closed && this.#queue.length > 0) this.#onReadable?.call(this, this.#queue.length);
      });
    }
  }

  read(): Datagram | undefined {
    return this.#queue.shift();
  }

  write(data: ArrayBuffer | ArrayBufferView, address: string, port: number): void {
    if (this.#closed) throw new Error("closed");
    if (typeof address !== "string" || net.isIP(address) === 0) throw new Error("invalid address");
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError("invalid port");
    if (net.isIPv6(address) && !this.#ipv6) throw new Error(`unreachable: an IPv4 socket cannot send to the IPv6 address ${address}`);
    if (net.isIPv4(address) && this.#ipv6 && !this.#dualStack) throw new Error(`unreachable: an IPv6 socket cannot send to the IPv4 address ${address}`);
    const to = this.#dualStack && net.isIPv4(address) ? `::ffff:${address}` : address;
    const bytes =
      data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const key = `${to} ${port}`;
    if (this.#writes++ === 0 && this.#ephemeral && !this.#heard && unicast(address)) {
      this.#socket.connect(port, to); // synchronous: the lookup is the identity
      this.#connected = key;
    } else if (this.#connected !== undefined && this.#connected !== key) {
      this.#connected = undefined;
      this.#socket.disconnect();
    }
    this.#sending++;
    const sent = (error: Error | null) => {
      this.#sending--;
      if (this.#closed && this.#sending === 0) this.#socket.close();
      // an ICMP error of an earlier datagram can surface at the next send
      else if (error) this.#failed(error as NodeJS.ErrnoException);
    };
    if (this.#connected !== undefined) this.#socket.send(Buffer.from(bytes), sent);
    else this.#socket.send(Buffer.from(bytes), port, to, sent);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onReadable = this.#onError = undefined;
    this.#queue = [];
    if (this.#sending === 0) this.#socket.close();
    untrackHandle(this.#closer);
  }
}

/**
 * A socket bound now to `address` and `port`. The identity lookup makes
 * Node's bind synchronous for IP literals, its failure included: that is
 * thrown here ("address-in-use: ..."), as lwip's udp_bind fails at once.
 */
function bindSocket(address: string, port: number): dgram.Socket {
  const socket = dgram.createSocket({
    type: net.isIPv6(address) ? "udp6" : "udp4",
    lookup: (host, _options, callback) =>
      (callback as (e: Error | null, a: string, f: number) => void)(null, host, net.isIPv6(host) ? 6 : 4),
  });
  let failure: NodeJS.ErrnoException | undefined;
  const onError = (e: NodeJS.ErrnoException) => (failure ??= e);
  socket.on("error", onError);
  socket.bind(port, address);
  socket.off("error", onError);
  if (failure === undefined && socket.address().port === 0) failure = Object.assign(new Error(`bind ${address}:${port} failed`), { code: "EINVAL" });
  if (failure !== undefined) {
    socket.close();
    const inUse = failure.code === "EADDRINUSE";
    throw Object.assign(new Error(`${inUse ? "address-in-use" : "error"}: ${failure.message}`), { cause: inUse ? "address-in-use" : "error" });
  }
  return socket;
}

/** Not multicast nor broadcast: a destination one socket can be connected to. */
function unicast(address: string): boolean {
  if (net.isIPv6(address)) return !address.toLowerCase().startsWith("ff");
  const first = Number(address.split(".")[0]);
  return first < 224 && address !== "255.255.255.255";
}
