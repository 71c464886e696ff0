/**
 * Node twin of `embedded:io/socket/udp` (ECMA-419 UDP socket, Moddable lwip
 * behaviour): `new UDP({ port, address, onReadable(packets), onError })`
 * binds at once (`port` known when the constructor returns);
 * `read()` returns the oldest datagram as an ArrayBuffer carrying `address`
 * and `port` properties; `write(data, address, port)` sends one datagram to
 * an IP address. Received datagrams wait in a queue of at most QUEUE_LIMIT
 * packets; when it is full new ones are dropped, as lwip drops them when its
 * pbufs run out.
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

  constructor(options: UdpOptions) {
    const address = options.address ?? "0.0.0.0";
    const port = options.port ?? 0;
    if (net.isIP(address) === 0) throw new Error("invalid address");
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError("invalid port");
    this.#onReadable = options.onReadable;
    this.#onError = options.onError;
    this.target = options.target;
    // An identity lookup makes bind() synchronous for IP literals, so `port`
    // is known when the constructor returns, like lwip's udp_bind.
    this.#socket = dgram.createSocket({
      type: net.isIPv6(address) ? "udp6" : "udp4",
      lookup: (host, _options, callback) =>
        (callback as (e: Error | null, a: string, f: number) => void)(null, host, net.isIPv6(host) ? 6 : 4),
    });
    this.#socket.on("message", (data, info) => this.#received(data, info.address, info.port));
    this.#socket.on("error", (error: NodeJS.ErrnoException) => {
      if (this.#closed) return;
      this.#onError?.call(this, hostError(causeOf(error), error.message));
    });
    this.#socket.bind(port, address);
    this.port = this.#socket.address().port;
    trackHandle(this.#closer);
  }

  #received(data: Buffer, address: string, port: number): void {
    if (this.#closed) return;
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
    const bytes =
      data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.#sending++;
    this.#socket.send(Buffer.from(bytes), port, address, () => {
      this.#sending--;
      if (this.#closed && this.#sending === 0) this.#socket.close();
    });
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
