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
import { DATAGRAM, SEND, TIMER } from "./names.js";

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

/** Extra deadlines of the owner (request timeouts) served by the same alarm, and socket faults. */
export interface DriverHooks {
  deadline?(): number | undefined;
  tick?(now: number): void;
  /** A datagram could not leave for `peer` (no route, wrong address family): retransmitting will not help. */
  sendFailed?(peer: Peer, error: unknown): void;
  /** The socket reported a fault, e.g. "refused" for an ICMP port unreachable (RFC 1122 §4.1.3.3). */
  socketError?(code: HostErrorCode, message?: string): void;
}

interface DriverLink {
  driver: EndpointDriver | undefined;
}
// Made outside the class so the closures capture nothing but the link (XS
// closures keep their whole scope, constructor arguments included).
function packetCallback(link: DriverLink): (data: Uint8Array, address: string, port: number) => void {
  return (data, address, port) => link.driver?.onDatagram(data, address, port);
}
function alarmCallback(link: DriverLink): () => void {
  return () => link.driver?.onAlarm();
}
function errorCallback(link: DriverLink): (code: HostErrorCode, message?: string) => void {
  return (code, message) => link.driver?.onSocketError(code, message);
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
  /** The deadline the alarm is set for, if any. */
  #armed: number | undefined;
  #link: DriverLink | undefined;
  readonly #pending: EndpointEvent[] = [];
  /** The array the endpoint appends its actions to, kept between events (one array, not one per datagram; see #run). */
  readonly #actions: EndpointAction[] = [];
  /** Entries of #actions already carried out (see #run). */
  #ran = 0;

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
    // The host callbacks reach this driver only through `link`, cut on close():
    // a host that keeps a closed socket or timer around then keeps only the link.
    const link: DriverLink = { driver: this };
    this.#link = link;
    this.#socket = host.openUdp({ port: options.port, address: options.address, onPacket: packetCallback(link), onError: errorCallback(link) });
    this.#alarm = host.createAlarm(alarmCallback(link));
  }

  /** @internal the alarm fired */
  onAlarm(): void {
    this.#armed = undefined;
    if (this.#closed) return;
    this.#hooks.tick?.(this.#host.now());
    if (!this.#closed) this.feed({ type: TIMER });
  }

  /** @internal a datagram came: handed to the endpoint without an event object, unless events wait (then it queues as one) */
  onDatagram(data: Uint8Array, address: string, port: number): void {
    if (this.#closed) return;
    if (this.#feeding || this.#pending.length > 0) {
      this.feed({ type: DATAGRAM, peer: { address, port }, data });
      return;
    }
    this.#feeding = true;
    try {
      this.#run(this.endpoint.datagram(address, port, data, this.#host.now(), this.#actions));
      this.#drain();
    } finally {
      this.#feeding = false;
    }
    this.rearm();
  }

  /** @internal the socket reported a fault */
  onSocketError(code: HostErrorCode, message?: string): void {
    if (!this.#closed) this.#hooks.socketError?.(code, message);
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
      this.#drain();
    } finally {
      this.#feeding = false;
    }
    this.rearm();
  }

  /** Handles the queued events (those the action handlers feed included), bounded. */
  #drain(): void {
    for (let n = 0; n < 10_000 && this.#pending.length > 0 && !this.#closed; n++) {
      this.#run(this.endpoint.handle(this.#pending.shift()!, this.#host.now(), this.#actions));
    }
  }

  /**
   * Carries out the actions the endpoint appended to `actions` since the last call, and
   * lets go of them. The array is emptied only once it holds RUN_KEPT entries: XS frees
   * an array's storage when its length drops to 0, so emptying it per datagram made it
   * grow again, twice, for each one (chunks of garbage per datagram).
   */
  #run(actions: EndpointAction[]): void {
    const slots = actions as (EndpointAction | undefined)[];
    let i = this.#ran;
    try {
      // An index loop: a for-of makes an iterator per event on XS.
      for (; i < actions.length && !this.#closed; i++) {
        const a = actions[i];
        slots[i] = undefined;
        if (a.type === SEND) {
          try {
            this.#socket.send(a.data, a.peer.address, a.peer.port);
          } catch (e) {
            // A datagram that cannot leave now will not leave on a retransmission
            // either: the owner fails what waits on that peer (events it feeds are queued).
            this.#hooks.sendFailed?.(a.peer, e);
          }
        } else this.#onAction(a);
      }
    } finally {
      // what a throw or close left is dropped, as before
      for (; i < actions.length; i++) slots[i] = undefined;
      this.#ran = actions.length;
      if (this.#ran >= RUN_KEPT) this.#ran = actions.length = 0;
    }
  }

  rearm(): void {
    if (this.#closed) return;
    const a = this.endpoint.nextDeadline();
    const b = this.#hooks.deadline?.();
    const d = a === undefined ? b : b === undefined ? a : Math.min(a, b);
    // An alarm set for earlier than needed stays: it wakes us a little early and
    // is re-armed then. Re-arming on every datagram (each block of a download
    // moves the retransmission deadline) would create a host timer per packet.
    if (this.#armed !== undefined && (d === undefined || this.#armed <= d)) return;
    this.#armed = d;
    this.#alarm.arm(d);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#link) this.#link.driver = undefined;
    this.#alarm.close();
    this.#socket.close();
  }
}

/** Peer for an address and port. */
export function peer(address: string, port: number): Peer {
  return { address, port };
}

/** #run(): entries the actions array grows to before it is emptied. */
const RUN_KEPT = 32;
