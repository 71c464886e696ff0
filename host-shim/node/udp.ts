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
 * With no `address` the socket takes both IP versions, as lwip's IP_ANY_TYPE
 * pcb: one OS socket per family ("0.0.0.0" and "::" IPv6-only) on the same
 * port, so it reaches `127.0.0.1` and `::1` alike. (One dual-stack socket
 * would not do: once connected to a v4-mapped peer, Linux leaves it deaf to
 * IPv6 after the disconnect.) A host without IPv6 gets the IPv4 one only.
 *
 * ICMP errors (RFC 1122 §4.1.3.3: port unreachable reaches UDP as
 * ECONNREFUSED) come only to a connected socket on Linux. So a client's
 * socket (port 0) that writes before it has received anything, to one
 * unicast peer, is connected to that peer until its first answer, as libcoap
 * connects a client session: an ICMP port unreachable then reaches `onError`
 * ("refused: ..."), so a request to a closed port fails at once. The first
 * datagram received, or the first write to a second peer, disconnects it: from
 * then on it takes datagrams from anyone, as an ECMA-419 socket does (while
 * connected, the kernel drops datagrams from other peers). A socket that
 * received first (a server) is never connected.
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

/** One OS socket of the twin (one per address family) and its connected peer, if any. */
interface Leg {
  socket: dgram.Socket;
  /** Its address family, read once at bind (socket.address() is a system call). */
  family: "IPv4" | "IPv6";
  /** "address port" of the peer it is connected to. */
  connected: string | undefined;
}

export default class UDP {
  readonly format = "buffer";
  port: number;
  target: unknown;
  #legs: Leg[];
  #queue: Datagram[] = [];
  #onReadable: UdpOptions["onReadable"];
  #onError: UdpOptions["onError"];
  #scheduled = false;
  #closed = false;
  #sending = 0; // sends not yet handed to the kernel: close() waits for them, as lwip sends synchronously
  #closer = { close: () => this.close() };
  /** Bound to port 0: a client's socket, which may be connected (see above). */
  readonly #ephemeral: boolean;
  #heard = false;
  #writes = 0;
  /** The last destination address write() accepted, and its family. */
  #lastAddress: string | undefined;
  #lastFamily: "IPv4" | "IPv6" = "IPv4";

  constructor(options: UdpOptions) {
    const port = options.port ?? 0;
    if (options.address !== undefined && net.isIP(options.address) === 0) throw new Error("invalid address");
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError("invalid port");
    this.#onReadable = options.onReadable;
    this.#onError = options.onError;
    this.target = options.target;
    this.#ephemeral = port === 0;
    const sockets = bindSockets(options.address, port);
    this.#legs = sockets.map((socket) => ({ socket, family: socket.address().family === "IPv6" ? "IPv6" : "IPv4", connected: undefined }));
    for (const leg of this.#legs) {
      leg.socket.on("message", (data, info) => this.#received(leg, data, info.address, info.port));
      leg.socket.on("error", (error: NodeJS.ErrnoException) => this.#failed(error));
    }
    this.port = sockets[0].address().port;
    trackHandle(this.#closer);
  }

  #failed(error: NodeJS.ErrnoException): void {
    if (this.#closed) return;
    this.#onError?.call(this, hostError(causeOf(error), error.message));
  }

  #received(leg: Leg, data: Buffer, address: string, port: number): void {
    if (this.#closed) return;
    this.#heard = true;
    if (leg.connected !== undefined) {
      leg.connected = undefined; // answered: back to taking datagrams from anyone
      leg.socket.disconnect();
    }
    if (this.#queue.length >= QUEUE_LIMIT) {
      counters.dropped++;
      return;
    }
    // Node gives each datagram a Buffer of its own: its memory is taken as is when the
    // Buffer spans all of it (no copy per datagram), else exactly this datagram is copied.
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
    const packet = (whole ? data.buffer : new Uint8Array(data).buffer) as Datagram;
    packet.address = address;
    packet.port = port;
    this.#queue.push(packet);
    if (!this.#scheduled) {
      this.#scheduled = true;
      // Announced once this datagram's event is over (never from inside a call into the
      // socket), as lwip posts each datagram to the machine. A setImmediate here cost a
      // turn of Node's event loop per datagram: ~15 % of a CoAP Block2 download
      // (bench/RESULTS.md, coap).
      queueMicrotask(() => {
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
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError("invalid port");
    // A socket mostly writes to one peer: its address is parsed once, not per datagram.
    if (address !== this.#lastAddress) {
      if (typeof address !== "string" || net.isIP(address) === 0) throw new Error("invalid address");
      this.#lastAddress = address;
      this.#lastFamily = net.isIPv6(address) ? "IPv6" : "IPv4";
    }
    const family = this.#lastFamily;
    const leg = this.#legs.find((l) => l.family === family);
    if (leg === undefined) throw new Error(`unreachable: this socket has no ${family} (bound to ${this.#legs[0].socket.address().address})`);
    const bytes =
      data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const key = `${address} ${port}`;
    if (this.#writes++ === 0 && this.#ephemeral && !this.#heard && unicast(address)) {
      leg.socket.connect(port, address); // synchronous: the lookup is the identity
      leg.connected = key;
    } else {
      for (const l of this.#legs) {
        if (l.connected === undefined || l.connected === key) continue;
        l.connected = undefined; // a second peer: back to unconnected
        l.socket.disconnect();
      }
    }
    this.#sending++;
    const sent = (error: Error | null) => {
      this.#sending--;
      if (this.#closed && this.#sending === 0) this.#closeSockets();
      // an ICMP error of an earlier datagram can surface at the next send
      else if (error) this.#failed(error as NodeJS.ErrnoException);
    };
    if (leg.connected !== undefined) leg.socket.send(Buffer.from(bytes), sent);
    else leg.socket.send(Buffer.from(bytes), port, address, sent);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onReadable = this.#onError = undefined;
    this.#queue = [];
    if (this.#sending === 0) this.#closeSockets();
    untrackHandle(this.#closer);
  }

  #closeSockets(): void {
    for (const l of this.#legs) l.socket.close();
  }
}

/**
 * The OS sockets for `address` (or both families when it is undefined) on
 * `port`, bound now. The identity lookup makes Node's bind synchronous for IP
 * literals, its failure included: that is thrown here ("address-in-use: ..."),
 * as lwip's udp_bind fails at once.
 *
 * Port 0 is resolved to a free port first and that port bound by number:
 * Linux forgets an automatically chosen port when a connected socket is
 * disconnected (udp_disconnect without SOCK_BINDPORT_LOCK), and a client's
 * socket may be connected and disconnected (see the class comment).
 */
function bindSockets(address: string | undefined, port: number): dgram.Socket[] {
  for (let attempt = 1; ; attempt++) {
    let chosen = port;
    if (chosen === 0) {
      const probe = bindNow(address ?? "0.0.0.0", 0);
      chosen = probe.address().port;
      probe.close();
    }
    try {
      const first = bindNow(address ?? "0.0.0.0", chosen);
      if (address !== undefined) return [first];
      try {
        return [first, bindNow("::", chosen, true)];
      } catch (e) {
        // no IPv6 on this host: IPv4 only; its port taken by someone else: try another (port 0)
        if ((e as { cause?: string }).cause !== "address-in-use" || port !== 0) return [first];
        first.close();
        throw e;
      }
    } catch (e) {
      // another process took the port between the probe and the bind: take another (bounded)
      if (port !== 0 || attempt >= 4 || (e as { cause?: string }).cause !== "address-in-use") throw e;
    }
  }
}

function bindNow(address: string, port: number, ipv6Only = false): dgram.Socket {
  const socket = dgram.createSocket({
    type: net.isIPv6(address) ? "udp6" : "udp4",
    ipv6Only,
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
