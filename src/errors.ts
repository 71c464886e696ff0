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
/**
 * Gives an error class its `name` on its prototype. Moddable freezes the
 * built-in prototypes when it preloads, so `this.name = "…"` in a constructor
 * throws there ("set name: not writable": an inherited read-only property
 * blocks assignment); defining the property on the subclass's own prototype
 * is allowed, costs no per-instance slot, and reads the same everywhere.
 */
export function nameError(cls: { prototype: Error }, name: string): void {
  Object.defineProperty(cls.prototype, "name", { value: name, writable: true, configurable: true });
}

export class MoteError<C extends string = string> extends Error {
  static {
    nameError(this, "MoteError");
  }
  readonly code: C;
  constructor(code: C, message?: string) {
    super(withCode(code, message));
    this.code = code;
  }
}

/**
 * "code: message", said once: a message that already starts with its code
 * (a wrapped error's text, a host error "refused: ...") is not prefixed again.
 */
export function withCode(code: string, message?: string): string {
  if (message === undefined || message === "" || message === code) return code;
  let text = message;
  while (text.startsWith(`${code}: `)) text = text.slice(code.length + 2);
  return `${code}: ${text}`;
}
