/**
 * The names the CoAP layer's per-message path compares and hands out — message
 * types, endpoint events and actions, exchange states, block-wise steps — as
 * constants made once, when the library is preloaded.
 *
 * Why not string literals: in preloaded code the XS linker keeps a literal as an
 * instruction that copies it into a new chunk at every evaluation (docs/moddable.md,
 * src/mqtt/names.ts), so `m.type === "ACK"` or `{ type: "notification" }` costs a
 * chunk per datagram. A module-level constant is read in place; TypeScript keeps
 * each one's literal type, so unions still narrow on `case ACK:`.
 * test/unit/hot-path-literals.test.ts holds the CoAP path to it.
 */

// message types (RFC 7252 §3: T field)
export const CON = "CON";
export const NON = "NON";
export const ACK = "ACK";
export const RST = "RST";

// endpoint events (endpoint-types.ts EndpointEvent)
export const DATAGRAM = "datagram";
export const TIMER = "timer";
export const REQUEST = "request";
export const PING = "ping";
export const CANCEL = "cancel";
export const RESPOND = "respond";
export const NOTIFY = "notify";

// endpoint actions (EndpointAction)
export const SEND = "send";
export const RESPONSE = "response";
export const BLOCK = "block";
export const NOTIFICATION = "notification";
export const FAILED = "failed";
export const PONG = "pong";
export const INCOMING = "incoming";
export const OBSERVER_GONE = "observer-gone";

// client exchange states (ClientState)
export const QUEUED = "queued";
export const ACTIVE = "active";
export const OBSERVING = "observing";
export const CANCELLING = "cancelling";

// steps of a retransmission (message-layer.ts due) and of a block-wise transfer (blockwise.ts)
export const WAIT = "wait";
export const RESEND = "resend";
export const EXPIRED = "expired";
export const WHOLE = "whole";
export const NEXT = "next";
export const LAST = "last";
export const DONE = "done";
export const BLOCK_MISMATCH = "block-mismatch";
export const TOO_LARGE = "too-large";

// method names (codec.ts Method) the client's shortcuts ask for
export const GET = "GET";
export const POST = "POST";
export const PUT = "PUT";
export const DELETE = "DELETE";
