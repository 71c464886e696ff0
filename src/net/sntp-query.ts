/**
 * One SNTP exchange over UDP (RFC 4330 §5, unicast): resolve the server, send
 * one request from a fresh port, take the first reply from that server's
 * address and port that passes the checks of sntp.ts, or give up at the
 * deadline. The callback runs once, asynchronously; `cancel()` silences it.
 * Replies that fail the origin check (a late answer to an earlier request, or
 * a forgery) are dropped and the wait goes on (RFC 5905 §8); any other refusal
 * (Kiss-o'-Death, unsynchronized server, implausible date) ends the exchange.
 * No retry here: the caller (src/runtime/time-sync.ts) retries with backoff.
 */
import { openUdp, type DatagramSocket } from "../platform/udp.js";
import { resolveHost } from "../platform/dns.js";
import { now } from "../platform/clock.js";
import { Alarm, setTimer } from "../platform/timer.js";
import { randomBytes } from "../platform/random.js";
import { decodeSntpReply, encodeSntpRequest, parseSntpServer, SntpError, timeAtReceipt } from "./sntp.js";

/** Longest wait for the reply, ms. */
export const DEFAULT_SNTP_TIMEOUT_MS = 5000;

export type SntpResult =
  | { readonly unixMs: number; readonly delayMs: number; readonly stratum: number; readonly address: string }
  /** "invalid-server" | "dns" | "socket" | "timeout" | an SntpErrorCode ("kiss:DENY" for a kiss code). */
  | { readonly error: string };

export function querySntp(server: string, callback: (result: SntpResult) => void, options: { timeoutMs?: number } = {}): { cancel(): void } {
  let done = false;
  let socket: DatagramSocket | undefined;
  let alarm: Alarm | undefined;
  const finish = (result: SntpResult) => {
    if (done) return;
    done = true;
    alarm?.close();
    alarm = undefined;
    const s = socket;
    socket = undefined;
    try {
      s?.close();
    } catch {
      // already closed
    }
    callback(result);
  };
  const fail = (error: string) => setTimer(() => finish({ error }), 0);

  let target: { host: string; port: number };
  try {
    target = parseSntpServer(server);
  } catch {
    fail("invalid-server");
    return { cancel: () => void (done = true) };
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_SNTP_TIMEOUT_MS;

  resolveHost(target.host, (address, error) => {
    if (done) return;
    if (address === undefined || error !== undefined) return finish({ error: "dns" });
    const nonce = randomBytes(8);
    let sentAt = 0;
    try {
      socket = openUdp({
        onPacket(data, from, fromPort) {
          if (done || from !== address || fromPort !== target.port) return; // not the server's
          const receivedAt = now();
          try {
            const reply = decodeSntpReply(data, nonce);
            const t = timeAtReceipt(reply, sentAt, receivedAt);
            finish({ unixMs: t.unixMs, delayMs: t.delayMs, stratum: reply.stratum, address });
          } catch (e) {
            if (e instanceof SntpError && e.code === "origin") return; // not an answer to this request
            finish({ error: e instanceof SntpError ? (e.kiss !== undefined ? `kiss:${e.kiss}` : e.code) : "error" });
          }
        },
        onError(code) {
          finish({ error: code === "closed" ? "socket" : code });
        },
      });
      alarm = new Alarm(() => finish({ error: "timeout" }));
      sentAt = now();
      alarm.arm(sentAt + timeoutMs);
      socket.send(encodeSntpRequest(nonce), address, target.port);
    } catch {
      finish({ error: "socket" });
    }
  });
  return {
    cancel(): void {
      if (done) return;
      done = true;
      alarm?.close();
      alarm = undefined;
      try {
        socket?.close();
      } catch {
        // already closed
      }
      socket = undefined;
    },
  };
}
