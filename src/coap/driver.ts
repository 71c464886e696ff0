/**
 * The thin part: one UDP socket and one alarm feeding a `CoapEndpoint`
 * (STYLE.md habit 6). Socket events and alarm wake-ups go into
 * `endpoint.handle()`; "send" actions go out on the socket; everything else
 * goes to the owner (client.ts or server.ts). The host (socket, clock, alarm,
 * random, DNS) is injected so the same code runs over src/platform on the
 * device and over an in-memory network in tests.
 */
import { MoteError } from "../errors.js";
import { CoapEndpoint, type EndpointAction, type EndpointEvent, type EndpointOptions, type Peer } from "./endpoint.js";

export type HostErrorCode = "refused" | "reset" | "timeout" | "unreachable" | "closed" | "dns" | "tls" | "error";

export interface HostDatagramSocket {
  send(data: Uint8Array, address: string, port: number): void;
  close(): void;
  readonly port: number;
}

/** What a CoAP binding needs from the platform (src/platform has one of each). */
export interface CoapHost {
  now(): number;
  random(): number;
  openUdp(options: {
    port?: number;
    address?: string;
    onPacket(data: Uint8Array, address: string, port: number): void;
    onError?(code: HostErrorCode, message?: string): void;
  }): HostDatagramSocket;
  resolveHost(host: string, callback: (address: string | undefined, error?: HostErrorCode) => void): void;
  createAlarm(onAlarm: () => void): { arm(deadline: number | undefined): void; close(): void };
}

/** Extra deadlines of the owner (request timeouts) served by the same alarm. */
export interface DriverHooks {
  deadline?(): number | undefined;
  tick?(now: number): void;
}

export class EndpointDriver {
  readonly endpoint: CoapEndpoint;
  readonly #host: CoapHost;
  readonly #socket: HostDatagramSocket;
  readonly #alarm: { arm(deadline: number | undefined): void; close(): void };
  readonly #onAction: (a: EndpointAction) => void;
  readonly #hooks: DriverHooks;
  #closed = false;
  #feeding = false;
  readonly #pending: EndpointEvent[] = [];

  constructor(
    host: CoapHost,
    options: Omit<EndpointOptions, "random"> & { port?: number; address?: string },
    onAction: (a: EndpointAction) => void,
    hooks: DriverHooks = {},
  ) {
    this.#host = host;
    this.#onAction = onAction;
    this.#hooks = hooks;
    this.endpoint = new CoapEndpoint({ ...options, random: () => host.random() });
    this.#socket = host.openUdp({
      port: options.port,
      address: options.address,
      onPacket: (data, address, port) => this.feed({ type: "datagram", peer: { address, port }, data }),
    });
    this.#alarm = host.createAlarm(() => {
      if (this.#closed) return;
      this.#hooks.tick?.(host.now());
      if (!this.#closed) this.feed({ type: "timer" });
    });
  }

  get port(): number {
    return this.#socket.port;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Feeds one event; re-entrant calls (from action handlers) are queued, not nested. */
  feed(event: EndpointEvent): void {
    if (this.#closed) throw new MoteError("closed", "CoAP endpoint is closed");
    this.#pending.push(event);
    if (this.#feeding) return;
    this.#feeding = true;
    try {
      for (let n = 0; n < 10_000 && this.#pending.length > 0 && !this.#closed; n++) {
        const ev = this.#pending.shift()!;
        const actions = this.endpoint.handle(ev, this.#host.now());
        for (const a of actions) {
          if (a.type === "send") {
            try {
              this.#socket.send(a.data, a.peer.address, a.peer.port);
            } catch {
              // A datagram that cannot leave is a lost datagram: CON retransmission covers it.
            }
          } else this.#onAction(a);
          if (this.#closed) break;
        }
      }
    } finally {
      this.#feeding = false;
    }
    this.rearm();
  }

  rearm(): void {
    if (this.#closed) return;
    const a = this.endpoint.nextDeadline();
    const b = this.#hooks.deadline?.();
    this.#alarm.arm(a === undefined ? b : b === undefined ? a : Math.min(a, b));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#alarm.close();
    this.#socket.close();
  }
}

/** Peer for an address and port. */
export function peer(address: string, port: number): Peer {
  return { address, port };
}
