/**
 * Errors of the raw socket layer.
 *
 * `NetError` is what a connection ends with when the network or the peer
 * fails (delivered through `onClose(error)`, never thrown at the caller), and
 * what the caller gets thrown for misuse (`invalid-argument`, `overflow`
 * when writing past the queue limit, `closed` when writing after the end).
 * It extends MoteError so code that switches on `error.code` handles both.
 */
import { MoteError, nameError } from "../errors.js";
import type { SocketErrorCode } from "../platform/tcp.js";

export type NetErrorCode =
  | "refused"
  | "reset"
  | "timeout"
  | "unreachable"
  | "closed"
  | "dns"
  | "tls"
  | "overflow"
  | "invalid-argument"
  | "address-in-use" // bind: the port is taken
  | "bind-failed" // bind: refused by the host for another reason (Moddable's lin UDP says no more)
  | "error";

export class NetError extends MoteError<NetErrorCode> {
  static {
    nameError(this, "NetError");
  }
  constructor(code: NetErrorCode, message?: string) {
    super(code, message);
  }
}

/** The NetError for a platform socket failure. */
export function netErrorOf(code: SocketErrorCode, message?: string): NetError {
  return new NetError(code, message);
}
