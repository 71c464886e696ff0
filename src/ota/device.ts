/**
 * The OTA agent wired to the platform: HTTP over src/platform/tcp.ts + dns,
 * timers from src/platform/timer.ts, SHA-256 from `crypt`, P-256 from
 * src/platform/ecdsa.ts, flash slots from src/platform/ota.ts. This is what
 * the device program passes as its `OtaPort` (src/app/ports.ts).
 *
 * CoAP: pass `fetchers: { coap: coapFetcher(new CoapClient({ host })) }` to
 * take `coap://` URLs too (Block2, RFC 7959 §2.4; src/ota/coap-fetcher.ts):
 * opt-in, so an agent on HTTP alone carries no CoAP code.
 */
import { httpGet, type HttpTransport } from "../http/client.js";
import { now } from "../platform/clock.js";
import { createSha256 } from "../platform/digest.js";
import { resolveHost } from "../platform/dns.js";
import { verifyP256 } from "../platform/ecdsa.js";
import { firmwareStatus, markRunningValid, platformOtaTarget, restart, rollbackAndRestart } from "../platform/ota.js";
import { BootGuard } from "./boot-guard.js";
import type { HealthCheckOptions } from "./boot.js";
import { connectTcp } from "../platform/tcp.js";
import { Alarm, clearTimer, setRepeating, type TimerHandle } from "../platform/timer.js";
import { MoteError } from "../errors.js";
import { httpFetcher, OtaAgent, periodicCheck, type Fetcher, type OtaAgentOptions } from "./agent.js";
import type { OtaCrypto } from "./descriptor.js";
import { parsePublicKey } from "./keys.js";

export const platformCrypto: OtaCrypto = Object.freeze({ createSha256, verifyP256 });

export function platformHttpTransport(): HttpTransport {
  return {
    connect: (options) => connectTcp(options),
    resolve: (host, callback) => resolveHost(host, callback),
    now,
    alarm: (onAlarm) => new Alarm(onAlarm),
  };
}

/**
 * "Run this on a later turn", one callback per timer tick, through ONE
 * repeating timer that stops when the queue is empty — an erase of a few
 * hundred sectors then costs one host timer, not one per sector. The queue
 * is bounded (`limit`, default 16; the agent never has more than one step
 * pending); beyond it `defer` throws MoteError("overflow").
 */
export function tickDeferrer(limit = 16): (callback: () => void) => void {
  const queue: Array<() => void> = [];
  let timer: TimerHandle | undefined;
  const tick = () => {
    const next = queue.shift();
    next?.(); // usually queues the next step: the timer keeps running
    if (queue.length === 0 && next === undefined) {
      clearTimer(timer);
      timer = undefined;
    }
  };
  return (callback) => {
    if (queue.length >= limit) throw new MoteError("overflow", "deferred steps");
    queue.push(callback);
    if (timer === undefined) timer = setRepeating(tick, 1);
  };
}

export interface DeviceOtaOptions {
  /** The update signer's public key: PEM, base64 or hex of the 65-byte point (device configuration). */
  readonly publicKey: string | Uint8Array;
  readonly board: string;
  readonly runningVersion: string;
  /** More transports by URL scheme, e.g. `{ coap: coapFetcher(client) }` (src/ota/coap-fetcher.ts); `http` is built in. */
  readonly fetchers?: Readonly<Record<string, Fetcher>>;
  readonly updater?: OtaAgentOptions["updater"];
  readonly allowDowngrade?: boolean;
  /** HTTP timeouts, ms. Defaults 10 s connect, 15 s idle. */
  readonly connectTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
}

export function createDeviceOtaAgent(options: DeviceOtaOptions): OtaAgent {
  const transport = platformHttpTransport();
  const http = httpFetcher((params, handlers) =>
    httpGet(transport, { ...params, connectTimeoutMs: options.connectTimeoutMs, idleTimeoutMs: options.idleTimeoutMs }, handlers),
  );
  return new OtaAgent({
    publicKey: typeof options.publicKey === "string" ? parsePublicKey(options.publicKey) : options.publicKey,
    crypto: platformCrypto,
    board: options.board,
    runningVersion: options.runningVersion,
    target: platformOtaTarget(),
    fetchers: { http, ...options.fetchers },
    now,
    alarm: transport.alarm,
    defer: tickDeferrer(),
    updater: options.updater,
    allowDowngrade: options.allowDowngrade,
  });
}

/**
 * The health check after a boot, wired to the platform: passing commits a
 * pending firmware (and resets the mod crash counter); failing rolls a
 * pending firmware back, or restarts when a mod is loaded (its crash counter
 * then disables it), and otherwise only reports.
 */
export function createDeviceBootGuard(
  options: HealthCheckOptions & { modLoaded?: boolean; onVerdict?: (verdict: string) => void },
): BootGuard {
  return new BootGuard({
    ...options,
    now,
    alarm: (onAlarm) => new Alarm(onAlarm),
    markValid: () => {
      markRunningValid();
      options.onVerdict?.("valid");
    },
    rollback: (reason) => {
      options.onVerdict?.(`unhealthy: ${reason}`);
      if (firmwareStatus().state === "pending-verify") rollbackAndRestart(reason);
      else if (options.modLoaded) restart(`mod unhealthy: ${reason}`);
    },
  });
}

/** `periodicCheck` on the platform's repeating timer. */
export function startPeriodicOtaCheck(
  agent: OtaAgent,
  options: { url: string; intervalMs: number; onEvent: Parameters<typeof periodicCheck>[1]["onEvent"] },
): { cancel(): void } {
  return periodicCheck(agent, {
    ...options,
    repeat: (callback, intervalMs) => {
      const handle = setRepeating(callback, intervalMs);
      return { cancel: () => clearTimer(handle) };
    },
  });
}
