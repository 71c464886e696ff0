/**
 * The two error families of mote (STYLE.md habit 4).
 *
 * - `MoteError` is thrown at the caller who misused an API (bad argument,
 *   call in the wrong state, a bound that the caller would exceed). Its `code`
 *   is a string literal so callers can switch on it.
 * - Faults of the peer or of the network are never thrown from a protocol
 *   core: they come back as data (`{ type: "close", reason: { code } }`).
 *   Decoders that meet bytes they cannot accept return/throw a subclass with
 *   a protocol-specific code (MqttProtocolError, CoapFormatError, OtaError).
 */
export class MoteError<C extends string = string> extends Error {
  readonly code: C;
  constructor(code: C, message?: string) {
    super(message === undefined ? code : `${code}: ${message}`);
    this.code = code;
    this.name = "MoteError";
  }
}
