/**
 * OTA faults.
 *
 * `OtaError` is what the OTA path reports when an update is refused or fails
 * because of what came from outside the device: a descriptor that does not
 * parse or verify, an image that does not match it, a server that answers
 * wrongly. Callers switch on `code`; the updater core never throws these, it
 * returns them inside a `{ type: "fail" }` action (STYLE.md habit 4). Caller
 * misuse (wrong state, bad option) throws `MoteError` instead.
 */
import { MoteError, nameError } from "../errors.js";

export type OtaErrorCode =
  | "bad-descriptor" // does not parse, a field is missing / malformed / out of bounds
  | "bad-signature" // ECDSA P-256 signature does not verify with the configured key
  | "bad-key" // the configured public key is not a P-256 point
  | "wrong-board" // descriptor.board differs from this device's board
  | "wrong-kind" // kind not accepted by this updater (e.g. a mod where mods are off)
  | "downgrade" // version older than the running one or below the anti-rollback floor
  | "up-to-date" // version equal to the running one
  | "too-large" // image does not fit the target slot / partition
  | "hash-mismatch" // SHA-256 of the received image differs from descriptor.sha256
  | "size-mismatch" // the server announced or sent a different number of bytes
  | "truncated" // the image stopped short and resuming did not complete it
  | "http-status" // unexpected HTTP status (not 200/206)
  | "range-ignored" // server answered 200 to a Range request (and policy says fail)
  | "bad-range" // Content-Range does not match what was asked
  | "bad-response" // the HTTP response could not be parsed
  | "network" // connection failed / reset and retries are exhausted
  | "timeout" // no progress within the configured time and retries are exhausted
  | "no-url" // nothing to download from
  | "unsupported-url" // scheme the agent cannot fetch (yet)
  | "flash" // the flash / OTA facade refused an erase or write
  | "busy" // an update is already running
  | "cancelled";

export class OtaError extends MoteError<OtaErrorCode> {
  static {
    nameError(this, "OtaError");
  }
  constructor(code: OtaErrorCode, message?: string) {
    super(code, message);
  }
}
