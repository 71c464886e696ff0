/**
 * Observe on the client side (RFC 7641), the rules endpoint.ts applies to a
 * registration once its first response came:
 * - `isFresh`: a notification is delivered only if newer than the last (§3.4);
 * - `reregisterAt`: when Max-Age (default 60 s, RFC 7252 §5.10.5) runs out
 *   without a notification, register again with the same token (§3.3.1), which
 *   also recovers from a server that restarted and forgot us;
 * - `notificationFetch`: a notification bigger than one block came as block 0
 *   (RFC 7959 §2.6): the exchange that GETs the rest, without Observe, on a token
 *   of its own, to be delivered whole as the notification.
 */
import { Option, findOption, optionUint, type CoapMessage } from "./codec.js";
import type { ClientExchange } from "./endpoint-types.js";
import { QUEUED } from "./names.js";

/** §3.4: sequence numbers are 24-bit; "newer" is within half the space. */
const SEQ_HALF = 1 << 23;
/** §3.4: after this long any notification counts as newer. */
const FRESHNESS_MS = 128_000;
/** RFC 7252 §5.10.5: Max-Age defaults to 60 s; also the retry period for a failed re-registration. */
export const DEFAULT_MAX_AGE_MS = 60_000;

/** RFC 7641 §3.4: is a notification with `seq` arriving at `now` newer than the last one? */
export function isFresh(ex: ClientExchange, seq: number, now: number): boolean {
  if (ex.acceptNext) return true;
  const v1 = ex.lastSeq;
  const v2 = seq;
  return (v1 < v2 && v2 - v1 < SEQ_HALF) || (v1 > v2 && v1 - v2 > SEQ_HALF) || now > ex.lastSeqAt + FRESHNESS_MS;
}

/** §3.3.1: when to register again if no notification follows `m` (its Max-Age, default 60 s, plus a margin). */
export function reregisterAt(m: CoapMessage, now: number, marginMs: number): number {
  const maxAge = optionUint(m, Option.MaxAge) ?? DEFAULT_MAX_AGE_MS / 1000;
  return now + maxAge * 1000 + marginMs;
}

/** The exchange that fetches the rest of `m` (block 0 of a notification, block size `szx`) for `parent`. */
export function notificationFetch(parent: ClientExchange, m: CoapMessage, szx: number, id: number, token: Uint8Array): ClientExchange {
  return {
    ...parent,
    id,
    spec: { method: parent.spec.method, options: parent.spec.options },
    token,
    state: QUEUED,
    flight: undefined,
    responseDeadline: undefined,
    holdsSlot: false,
    b2Offset: m.payload.length,
    b2Szx: szx,
    b2Chunks: [m.payload],
    b2Length: m.payload.length,
    b2Started: true,
    etag: findOption(m, Option.ETag)?.value,
    upload: undefined,
    reregisterAt: undefined,
    child: undefined,
    parent,
    template: m,
  };
}
