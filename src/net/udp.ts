/**
 * A UDP socket: bind, send to a host name or IP, receive with the source
 * address (RFC 768). Bounds:
 * - `maxDatagramBytes` (default 1472 = Ethernet MTU 1500 - IPv4 20 - UDP 8,
 *   so no IP fragmentation, which lwip builds often cannot reassemble):
 *   sending more throws NetError("invalid-argument"); a bigger received
 *   datagram is dropped and counted in `droppedDatagrams`.
 * - sends to host names wait for the lookup; at most `maxPendingSends`
 *   (default 8) may wait, more throw NetError("overflow"). A failed lookup
 *   drops the datagram and reports through `onError("dns")`.
 */
import { openUdp, type DatagramSocket } from "../platform/udp.js";
import { isIpAddress, type SocketErrorCode } from "../platform/tcp.js";
import { resolveHost } from "../platform/dns.js";
import { setTimer } from "../platform/timer.js";
import { MoteError } from "../errors.js";
import { encodeUtf8 } from "../util/utf8.js";
import { NetError } from "./errors.js";

export const DEFAULT_MAX_DATAGRAM_BYTES = 1472;
export const DEFAULT_MAX_PENDING_SENDS = 8;
// RFC 768 + IPv4: 65535 - 20 (IP header) - 8 (UDP header).
const MAX_UDP_PAYLOAD = 65507;

export interface UdpSocketOptions {
  /** Local port; 0 or absent = any free port. */
  port?: number;
  /** Local IP address; default all interfaces. */
  address?: string;
  maxDatagramBytes?: number;
  maxPendingSends?: number;
  onMessage?(data: Uint8Array, address: string, port: number): void;
  onError?(error: NetError): void;
}

export class UdpSocket {
  onMessage?: (data: Uint8Array, address: string, port: number) => void;
  onError?: (error: NetError) => void;
  readonly maxDatagramBytes: number;
  readonly maxPendingSends: number;
  #socket: DatagramSocket | undefined;
  #pending = 0;
  #dropped = 0;

  constructor(options: UdpSocketOptions = {}) {
    const max = options.maxDatagramBytes ?? DEFAULT_MAX_DATAGRAM_BYTES;
    if (!Number.isInteger(max) || max < 1 || max > MAX_UDP_PAYLOAD)
      throw new NetError("invalid-argument", `maxDatagramBytes must be 1..${MAX_UDP_PAYLOAD}`);
    const pending = options.maxPendingSends ?? DEFAULT_MAX_PENDING_SENDS;
    if (!Number.isInteger(pending) || pending < 0) throw new NetError("invalid-argument", "maxPendingSends must be >= 0");
    this.maxDatagramBytes = max;
    this.maxPendingSends = pending;
    this.onMessage = options.onMessage;
    this.onError = options.onError;
    try {
      this.#socket = openUdp({
        ...(options.port === undefined ? {} : { port: options.port }),
        ...(options.address === undefined ? {} : { address: options.address }),
        onPacket: (data, address, port) => {
          if (data.byteLength > this.maxDatagramBytes) {
            this.#dropped++;
            return;
          }
          this.onMessage?.(data, address, port);
        },
        onError: (code: SocketErrorCode, message?: string) => this.onError?.(new NetError(code, message)),
      });
    } catch (error) {
      if (error instanceof MoteError) {
        const c = error.code;
        throw new NetError(c === "invalid-argument" || c === "address-in-use" || c === "bind-failed" ? c : "error", error.message);
      }
      throw error;
    }
  }

  /** The local port (the chosen one when bound to 0). */
  get port(): number {
    return this.#socket?.port ?? 0;
  }

  /** Received datagrams dropped for exceeding `maxDatagramBytes`. */
  get droppedDatagrams(): number {
    return this.#dropped;
  }

  /**
   * Sends one datagram to `host` (name or IP) and `port`. `onSent` (optional)
   * runs once the datagram went to the network, or with the error that
   * stopped it (a failed name lookup); lookup failures also reach `onError`.
   */
  send(data: Uint8Array | string, host: string, port: number, onSent?: (error?: NetError) => void): void {
    const socket = this.#socket;
    if (socket === undefined) throw new NetError("closed", "socket is closed");
    const bytes = typeof data === "string" ? encodeUtf8(data) : data;
    if (!(bytes instanceof Uint8Array)) throw new NetError("invalid-argument", "data must be a Uint8Array or string");
    if (bytes.byteLength > this.maxDatagramBytes)
      throw new NetError("invalid-argument", `datagram of ${bytes.byteLength} bytes exceeds ${this.maxDatagramBytes}`);
    if (typeof host !== "string" || host.length === 0 || host.length > 253)
      throw new NetError("invalid-argument", "host must be a host name or IP address");
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
      throw new NetError("invalid-argument", "port must be an integer 1..65535");
    if (isIpAddress(host)) {
      socket.send(bytes, host, port);
      if (onSent !== undefined) setTimer(() => onSent(), 0);
      return;
    }
    if (this.#pending >= this.maxPendingSends) throw new NetError("overflow", "too many sends waiting for name lookup");
    this.#pending++;
    resolveHost(host, (address, error) => {
      this.#pending--;
      if (this.#socket === undefined) {
        onSent?.(new NetError("closed", "socket closed before the name was resolved"));
        return;
      }
      if (address === undefined) {
        const failure = new NetError(error ?? "dns", `cannot resolve ${host}`);
        this.onError?.(failure);
        onSent?.(failure);
      } else {
        this.#socket.send(bytes, address, port);
        onSent?.();
      }
    });
  }

  close(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.onMessage = undefined;
    this.onError = undefined;
    socket?.close();
  }
}
