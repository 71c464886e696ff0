/**
 * The connection lifecycle of the MQTT client, sans I/O (STYLE.md habit 1):
 * when to start an attempt, when to give one up, how long to wait between them.
 * The client (client.ts) owns the socket, DNS and the session; it tells this
 * core what happened and runs the actions it returns.
 *
 * Theory of operation. One state in one field:
 *   idle        nothing started yet (before "start"), or reconnecting is off and
 *               the link was lost
 *   opening     an attempt is in flight: DNS, the TCP/TLS handshake, CONNECT sent
 *               and CONNACK awaited. Its transport phase (up to the first writable
 *               socket) has a deadline; the CONNACK wait has the session's own.
 *   connected   CONNACK accepted
 *   waiting     between attempts: the backoff delay runs
 *   ended       end() was called; nothing starts again
 * Backoff: exponential with full jitter, uniform in [0, min(max, initial·2^n)]
 * for the n-th consecutive failure; a connection that lasted `stableAfterMs`
 * starts the count over.
 *
 * The network coming back ("network-up", the device got an address again)
 * means every failure counted so far was the network's, not the broker's: the
 * count starts over and an attempt starts now. An attempt still in flight then
 * was begun while there was no network (or on the network that went away): its
 * SYN or CONNECT may be lost for good, and the host may take its own timeout
 * (tens of seconds) to say so. It is abandoned and a fresh one started at once,
 * rather than left to run out its deadline.
 *
 * A broker list (`brokers` > 1: the nodes of a cluster, or standbys). Each
 * attempt names the broker it goes to. Every failure — refused, closed,
 * keepalive timeout, transport or CONNACK timeout, a connection lost after it
 * was up — moves to the next broker in the list (round robin), after the
 * same backoff delay as with one broker: the backoff bounds how hard the
 * whole list is tried, not each broker. A connection that comes up stays on
 * its broker until it fails; nothing moves a device back to the first one
 * (a fleet spreads itself by the order of each device's list, not by this
 * core). "network-up" does not move: the failure was the network's, so the
 * broker the device was on (or trying) is tried again at once.
 *
 * The will of a broker that died. A broker publishes a client's will when the
 * connection ends without DISCONNECT (MQTT 3.1.1 §3.1.2.5) — but a node that
 * crashed publishes nothing, and the other nodes of a cluster never held the
 * will (RabbitMQ keeps it in the connection's process). So when a connection
 * was lost and the next one comes up on another broker, the lifecycle says
 * "failed-over" and the client publishes the will itself, first thing on the
 * new connection: subscribers learn that the device was cut, then see it come
 * back. If the old broker was alive after all, it may publish the will too:
 * for a retained status that is the same value twice.
 */

export type LinkState = "idle" | "opening" | "connected" | "waiting" | "ended";

export interface LinkOptions {
  /**
   * false: a lost link stays down. Default true. With a broker list, "down"
   * comes once every broker was tried: a failed attempt goes on to the next
   * broker at once until the list is used up (a one-shot `mote mqtt pub -h a,b`).
   */
  reconnect?: boolean;
  /** First delay cap, ms (default 1000). */
  initialDelayMs?: number;
  /** Largest delay, ms (default 60000). */
  maxDelayMs?: number;
  /** A connection that lasted this long resets the backoff, ms (default 30000). */
  stableAfterMs?: number;
  /** Deadline of the transport phase (DNS + TCP/TLS) of an attempt, ms (default 30000). */
  transportTimeoutMs?: number;
  /** Uniform random number in [0, 1): the jitter. */
  rng: () => number;
  /** Brokers in the list (default 1); attempts go round it, one move per failure. */
  brokers?: number;
}

export type LinkEvent =
  /** The client was created: first attempt. */
  | { type: "start" }
  /** The attempt's socket is connected (first onWritable). */
  | { type: "transport-up" }
  /** CONNACK accepted. */
  | { type: "connected" }
  /** The attempt failed or the connection closed (socket error, peer close, session close). */
  | { type: "lost" }
  /** The network is back (the device has an address again). */
  | { type: "network-up" }
  | { type: "timer" }
  | { type: "end" };

export type LinkAction =
  /** Begin attempt number `attempt` (1 = the first since start) to broker `broker` (0-based index in the list). */
  | { type: "open"; attempt: number; broker: number }
  /**
   * Tear down the attempt in flight now — its socket closed, the session told
   * the connection closed — without reporting "lost" back: what follows is in
   * the same action list.
   */
  | { type: "abandon"; code: "timeout" | "network-up" }
  /** The next attempt starts after `delayMs` (the client's "reconnect" event). */
  | { type: "wait"; failures: number; delayMs: number }
  /** Connected to broker `to` after a connection to broker `from` was lost: its will may never have been published. */
  | { type: "failed-over"; from: number; to: number };

export class LinkLifecycle {
  readonly #reconnect: boolean;
  readonly #initial: number;
  readonly #max: number;
  readonly #stable: number;
  readonly #transportTimeout: number;
  readonly #rng: () => number;
  readonly #brokers: number;
  /** The broker of the attempt in flight, of the connection, or of the next attempt. */
  #broker = 0;
  #state: LinkState = "idle";
  /** Consecutive failures since the last reset (stable connection or network-up). */
  #failures = 0;
  /** Attempts begun since start. */
  #attempts = 0;
  #connectedAt: number | undefined;
  /** Failed attempts in a row without reconnecting (reconnect off: the list is used up at `brokers`). */
  #tried = 0;
  /** The broker of the last connection lost (not ended by us), until the next connection is up. */
  #lostFrom: number | undefined;
  /** opening: end of the transport phase; waiting: when the next attempt starts. */
  #deadline: number | undefined;

  constructor(options: LinkOptions) {
    this.#reconnect = options.reconnect ?? true;
    this.#initial = options.initialDelayMs ?? 1000;
    this.#max = options.maxDelayMs ?? 60_000;
    this.#stable = options.stableAfterMs ?? 30_000;
    this.#transportTimeout = options.transportTimeoutMs ?? 30_000;
    this.#rng = options.rng;
    const n = options.brokers ?? 1;
    this.#brokers = Number.isInteger(n) && n >= 1 ? n : 1;
  }

  get state(): LinkState {
    return this.#state;
  }

  /** Consecutive failures counted toward the backoff. */
  get failures(): number {
    return this.#failures;
  }

  /** Index of the broker in use (connected or attempting) or to be tried next. */
  get broker(): number {
    return this.#broker;
  }

  nextDeadline(): number | undefined {
    return this.#deadline;
  }

  handle(event: LinkEvent, now: number): LinkAction[] {
    if (this.#state === "ended") return [];
    switch (event.type) {
      case "start":
        return this.#state === "idle" && this.#attempts === 0 ? [this.#open(now)] : [];
      case "transport-up":
        if (this.#state === "opening") this.#deadline = undefined;
        return [];
      case "connected":
        if (this.#state !== "opening") return [];
        this.#state = "connected";
        this.#deadline = undefined;
        this.#connectedAt = now;
        if (this.#lostFrom !== undefined && this.#lostFrom !== this.#broker) {
          const from = this.#lostFrom;
          this.#lostFrom = undefined;
          return [{ type: "failed-over", from, to: this.#broker }];
        }
        this.#lostFrom = undefined;
        return [];
      case "lost":
        return this.#state === "opening" || this.#state === "connected" ? this.#lost(now) : [];
      case "network-up":
        if (this.#state === "waiting") {
          this.#failures = 0;
          return [this.#open(now)];
        }
        if (this.#state === "opening") {
          this.#failures = 0;
          return [{ type: "abandon", code: "network-up" }, this.#open(now)];
        }
        return [];
      case "timer":
        if (this.#deadline === undefined || now < this.#deadline) return [];
        if (this.#state === "waiting") return [this.#open(now)];
        if (this.#state === "opening") return [{ type: "abandon", code: "timeout" }, ...this.#lost(now)];
        return [];
      case "end":
        this.#state = "ended";
        this.#deadline = undefined;
        return [];
    }
  }

  #open(now: number): LinkAction {
    this.#state = "opening";
    this.#connectedAt = undefined;
    this.#deadline = now + this.#transportTimeout;
    return { type: "open", attempt: ++this.#attempts, broker: this.#broker };
  }

  #lost(now: number): LinkAction[] {
    if (this.#connectedAt !== undefined && now - this.#connectedAt >= this.#stable) this.#failures = 0;
    this.#connectedAt = undefined;
    const wasConnected = this.#state === "connected";
    if (wasConnected) this.#lostFrom = this.#broker;
    // this broker failed (or dropped the connection): the next attempt goes to the next one
    this.#broker = (this.#broker + 1) % this.#brokers;
    if (!this.#reconnect) {
      if (!wasConnected && ++this.#tried < this.#brokers) return [this.#open(now)];
      this.#state = "idle";
      this.#deadline = undefined;
      return [];
    }
    // full jitter: uniform in [0, min(cap, base · 2^n)]
    const cap = Math.floor(Math.min(this.#max, this.#initial * 2 ** Math.min(this.#failures, 30)));
    let r = this.#rng();
    if (!(r >= 0) || r >= 1) r = 0.5; // a broken rng must not give NaN or a negative delay
    const delayMs = Math.floor(r * (cap + 1));
    this.#failures++;
    this.#state = "waiting";
    this.#deadline = now + delayMs;
    return [{ type: "wait", failures: this.#failures, delayMs }];
  }
}
