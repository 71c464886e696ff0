import { MoteError, nameError } from "../errors.js";
import { reasonCodeOf, reasonName } from "./reason-codes.js";

/** Why bytes from the peer were refused: each is the kebab-case name of its v5 reason code (reason-codes.ts). */
export type MqttFaultCode =
  | "malformed-packet" // 0x81
  | "protocol-error" // 0x82
  | "packet-too-large" // 0x95
  | "topic-name-invalid" // 0x90
  | "topic-alias-invalid" // 0x94
  | "receive-maximum-exceeded" // 0x93
  | "unsupported-protocol-version"; // 0x84

/**
 * A fault of the peer: bytes that break MQTT's rules. `reasonCode` is the v5
 * reason code the session sends in DISCONNECT (MQTT 5 §4.13); a 3.1.1 session
 * just closes the connection (MQTT 3.1.1 §4.8).
 */
export class MqttProtocolError extends MoteError<MqttFaultCode> {
  static {
    nameError(this, "MqttProtocolError");
  }
  readonly reasonCode: number;
  constructor(code: MqttFaultCode, message: string) {
    super(code, message);
    this.reasonCode = reasonCodeOf(code)!;
  }
  override toString(): string {
    return `${this.name} ${this.message} (${reasonName(this.reasonCode)})`;
  }
}

/** `new MqttProtocolError("malformed-packet", message)`: one call site per rule instead of the code repeated (docs/size.md). */
export function malformed(message: string): MqttProtocolError {
  return new MqttProtocolError("malformed-packet", message);
}

/** `new MqttProtocolError("protocol-error", message)`. */
export function protocolError(message: string): MqttProtocolError {
  return new MqttProtocolError("protocol-error", message);
}
