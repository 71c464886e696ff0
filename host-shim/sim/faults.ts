/**
 * Network faults between the simulated devices and their peers.
 *
 * Every device reaches the broker through a `TcpFaultProxy` and the CoAP server
 * through a `UdpFaultProxy` on 127.0.0.1, so faults work the same against the
 * embedded peers and against real ones (mosquitto, libcoap):
 *   cut(ms)   every connection is reset and new ones are refused for `ms`
 *             (a broker restart seen from the device);
 *   refused   a proxy always accepts TCP, so the refusal a device would meet
 *             (the broker down, restarting or never there) is told apart:
 *             `refusal()` says whether a connect would be refused now, which
 *             the device's network stack (network.ts) turns into `refused`.
 *             The proxy learns the broker is gone when its own connect to it
 *             fails, and probes it until it answers again;
 *   loss = p  UDP: each datagram is dropped with probability p.
 *             TCP cannot lose bytes, so a "lost" segment shows up as what TCP
 *             makes of it: a retransmission delay (`retransmitMs`) for that
 *             chunk and, to keep the byte order, everything behind it.
 */
import { createServer, connect, type Server, type Socket, type AddressInfo } from "node:net";
import { createSocket, type Socket as UdpSocket } from "node:dgram";

export type FaultKind = "wifi-drop" | "broker-restart" | "power-cut" | "loss";

export interface ScheduledFault {
  readonly kind: FaultKind;
  /** When, ms after the start (loss: from the start when absent). */
  readonly atMs: number;
  /** How long the fault lasts, ms (wifi-drop, broker-restart, power-cut). */
  readonly durationMs?: number;
  /** Loss rate 0..1. */
  readonly rate?: number;
}

export class FaultSpecError extends Error {
  readonly code = "invalid-fault" as const;
  constructor(spec: string, why: string) {
    super(`invalid-fault: "${spec}": ${why}`);
    this.name = "MoteError";
  }
}

/**
 * Parses `wifi-drop@10s`, `broker-restart@20s`, `power-cut@30s`, `loss=0.3`,
 * with optional duration `+5s` (`wifi-drop@10s+5s`) and `loss=0.3@10s`.
 * Times take `ms`, `s` (default) or `m`.
 */
export function parseFault(spec: string): ScheduledFault {
  const loss = /^loss=([0-9]*\.?[0-9]+)(?:@([0-9.]+(?:ms|s|m)?))?$/.exec(spec);
  if (loss !== null) {
    const rate = Number(loss[1]);
    if (!(rate >= 0 && rate <= 1)) throw new FaultSpecError(spec, "loss rate must be within 0..1");
    return { kind: "loss", rate, atMs: loss[2] === undefined ? 0 : duration(spec, loss[2]) };
  }
  const m = /^(wifi-drop|broker-restart|power-cut)@([0-9.]+(?:ms|s|m)?)(?:\+([0-9.]+(?:ms|s|m)?))?$/.exec(spec);
  if (m === null)
    throw new FaultSpecError(spec, "expected wifi-drop@T, broker-restart@T, power-cut@T (optionally +DURATION) or loss=P");
  const kind = m[1] as FaultKind;
  return { kind, atMs: duration(spec, m[2]), durationMs: m[3] === undefined ? undefined : duration(spec, m[3]) };
}

function duration(spec: string, text: string): number {
  const m = /^([0-9]*\.?[0-9]+)(ms|s|m)?$/.exec(text);
  if (m === null) throw new FaultSpecError(spec, `bad time "${text}"`);
  const n = Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "m" ? 60_000 : 1000);
  if (!Number.isFinite(n) || n > 7 * 24 * 3600_000) throw new FaultSpecError(spec, "time out of range");
  return Math.round(n);
}

export interface ProxyOptions {
  targetHost: string;
  targetPort: number;
  /** Listen port; 0 = any free port. */
  port?: number;
  /** Random source for loss decisions. Default Math.random. */
  random?: () => number;
  /** Delay for a "lost" TCP chunk, ms. Default 200 (a typical RTO floor). */
  retransmitMs?: number;
  /** Bound on bytes held back per direction while delaying; beyond it the connection is reset. Default 1 MiB. */
  maxHeldBytes?: number;
}

/** A TCP relay with cut and loss faults. */
export class TcpFaultProxy {
  readonly #o: Required<ProxyOptions>;
  readonly #pairs = new Set<{ a: Socket; b: Socket }>();
  #server: Server | undefined;
  #downUntil = 0;
  #loss = 0;
  #port = 0;
  /** The target refused the last connect; probed every PROBE_MS until it accepts. */
  #targetDown = false;
  #probe: NodeJS.Timeout | undefined;
  #closed = false;
  connections = 0;

  constructor(options: ProxyOptions) {
    this.#o = { port: 0, random: Math.random, retransmitMs: 200, maxHeldBytes: 1 << 20, ...options };
  }

  get port(): number {
    return this.#port;
  }

  set loss(rate: number) {
    this.#loss = Math.min(1, Math.max(0, rate));
  }
  get loss(): number {
    return this.#loss;
  }

  /** Points the relay at another target (new connections only). */
  retarget(host: string, port: number): void {
    this.#o.targetHost = host;
    this.#o.targetPort = port;
  }

  async listen(): Promise<number> {
    const server = createServer((client) => this.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#o.port, "127.0.0.1", () => resolve());
    });
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
    await this.#probeTarget();
    return this.#port;
  }

  /** Why a connect through the relay would be refused now ("refused: ..."), or undefined. */
  refusal(): string | undefined {
    if (Date.now() < this.#downUntil) return "refused: connection refused (the broker is restarting)";
    if (this.#targetDown) return `refused: connection refused (nothing listens at ${this.#o.targetHost}:${this.#o.targetPort})`;
    return undefined;
  }

  /** The target refused a connect: say so until a probe finds it back. */
  #markTargetDown(): void {
    if (this.#targetDown || this.#closed) return;
    this.#targetDown = true;
    const again = () => {
      this.#probe = undefined;
      if (this.#closed || !this.#targetDown) return;
      void this.#probeTarget().then(() => {
        if (this.#targetDown && !this.#closed) this.#probe = setTimeout(again, PROBE_MS).unref();
      });
    };
    this.#probe = setTimeout(again, PROBE_MS).unref();
  }

  /** One connect to the target, closed at once: whether it listens. */
  #probeTarget(): Promise<void> {
    return new Promise((resolve) => {
      const s = connect({ host: this.#o.targetHost, port: this.#o.targetPort });
      const done = (up: boolean) => {
        s.destroy();
        if (up) this.#targetDown = false;
        else if (!this.#targetDown) this.#markTargetDown();
        resolve();
      };
      s.setTimeout(PROBE_MS * 4, () => done(false));
      s.once("connect", () => done(true));
      s.once("error", () => done(false));
    });
  }

  /** Resets every connection and refuses new ones for `downMs`. */
  cut(downMs: number): void {
    this.#downUntil = Date.now() + downMs;
    for (const p of this.#pairs) {
      resetQuietly(p.a);
      p.b.destroy();
    }
    this.#pairs.clear();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#probe !== undefined) clearTimeout(this.#probe);
    for (const p of this.#pairs) {
      p.a.destroy();
      p.b.destroy();
    }
    this.#pairs.clear();
    const s = this.#server;
    this.#server = undefined;
    if (s !== undefined) await new Promise<void>((r) => s.close(() => r()));
  }

  #accept(client: Socket): void {
    client.on("error", () => client.destroy());
    if (Date.now() < this.#downUntil) {
      resetQuietly(client);
      return;
    }
    this.connections++;
    const upstream = connect({ host: this.#o.targetHost, port: this.#o.targetPort });
    upstream.once("connect", () => (this.#targetDown = false));
    upstream.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNREFUSED") this.#markTargetDown();
    });
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    const pair = { a: client, b: upstream };
    this.#pairs.add(pair);
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    upstream.on("error", end);
    upstream.on("close", end);
    client.on("close", end);
    this.#relay(client, upstream, end);
    this.#relay(upstream, client, end);
  }

  /** Copies `from` to `to` in order; with loss, a chunk (and what follows) is held back. */
  #relay(from: Socket, to: Socket, end: () => void): void {
    const held: Buffer[] = [];
    let heldBytes = 0;
    let releaseAt = 0;
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      while (held.length > 0) to.write(held.shift()!);
      heldBytes = 0;
    };
    from.on("data", (chunk: Buffer) => {
      const lost = this.#loss > 0 && this.#o.random() < this.#loss;
      if (!lost && held.length === 0) {
        to.write(chunk);
        return;
      }
      heldBytes += chunk.length;
      if (heldBytes > this.#o.maxHeldBytes) {
        end();
        return;
      }
      held.push(chunk);
      if (lost) releaseAt = Math.max(releaseAt, Date.now()) + this.#o.retransmitMs;
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(flush, Math.max(0, releaseAt - Date.now()));
    });
    from.on("close", () => {
      if (timer !== undefined) clearTimeout(timer);
    });
  }
}

/** Period of the probes of a target found down, ms. */
const PROBE_MS = 200;

/** RST the connection (as a vanished peer does); a socket already gone is fine. */
function resetQuietly(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/** A UDP relay (one upstream socket per client address) with loss and cut faults. */
export class UdpFaultProxy {
  readonly #o: Required<ProxyOptions>;
  readonly #clients = new Map<string, UdpSocket>();
  #socket: UdpSocket | undefined;
  #loss = 0;
  #downUntil = 0;
  #port = 0;
  dropped = 0;
  /** Bound on client addresses relayed at once (oldest closed beyond it). */
  static readonly MAX_CLIENTS = 256;

  constructor(options: ProxyOptions) {
    this.#o = { port: 0, random: Math.random, retransmitMs: 0, maxHeldBytes: 0, ...options };
  }

  get port(): number {
    return this.#port;
  }
  set loss(rate: number) {
    this.#loss = Math.min(1, Math.max(0, rate));
  }
  get loss(): number {
    return this.#loss;
  }

  cut(downMs: number): void {
    this.#downUntil = Date.now() + downMs;
  }

  async listen(): Promise<number> {
    const sock = createSocket("udp4");
    sock.on("message", (msg, rinfo) => this.#fromClient(msg, rinfo.address, rinfo.port));
    await new Promise<void>((resolve, reject) => {
      sock.once("error", reject);
      sock.bind(this.#o.port, "127.0.0.1", () => resolve());
    });
    this.#socket = sock;
    this.#port = sock.address().port;
    return this.#port;
  }

  #drop(): boolean {
    if (Date.now() < this.#downUntil || (this.#loss > 0 && this.#o.random() < this.#loss)) {
      this.dropped++;
      return true;
    }
    return false;
  }

  #fromClient(msg: Buffer, address: string, port: number): void {
    if (this.#drop()) return;
    const key = `${address}:${port}`;
    let up = this.#clients.get(key);
    if (up === undefined) {
      if (this.#clients.size >= UdpFaultProxy.MAX_CLIENTS) {
        const [oldest, s] = this.#clients.entries().next().value as [string, UdpSocket];
        s.close();
        this.#clients.delete(oldest);
      }
      const s = createSocket("udp4");
      s.on("message", (reply) => {
        if (!this.#drop()) this.#socket?.send(reply, port, address);
      });
      s.on("error", () => undefined);
      this.#clients.set(key, s);
      up = s;
    }
    up.send(msg, this.#o.targetPort, this.#o.targetHost);
  }

  async close(): Promise<void> {
    for (const s of this.#clients.values()) s.close();
    this.#clients.clear();
    const s = this.#socket;
    this.#socket = undefined;
    if (s !== undefined) await new Promise<void>((r) => s.close(() => r()));
  }
}
