/**
 * The names the MQTT layer's per-message path compares and hands out — event,
 * action and packet types, session states — as constants made once.
 *
 * Why not string literals: mote's library is preloaded (manifest_lib.json),
 * and the XS linker turns the string literals of code that is *not* preloaded
 * into strings read in place, but leaves those of preloaded code as
 * instructions that copy the literal into a new chunk each time they run
 * (Moddable SDK xs/tools/xslBase.c, fxMapCode). So on the chip, `case "send":`,
 * `state === "connected"` or `{ type: "published" }` costs a chunk of garbage
 * at every evaluation: measured, ~45 of them and ~1.3 KB of a telemetry
 * message's ~2.5 KB of chunk garbage on Moddable's runtime (bench/RESULTS.md).
 * A module-level constant is made once, when the library is preloaded, and
 * read in place. TypeScript keeps each one's literal type, so unions still
 * narrow on `case SEND:`.
 *
 * Rule for device code on this path (docs/moddable.md): compare and build
 * with these, not with literals. Cold paths (errors, connection set-up) may
 * keep their literals.
 */

// session events (session-types.ts SessionEvent)
export const OPEN = "open";
export const BYTES = "bytes";
export const TIMER = "timer";
export const CLOSED = "closed";
export const SUBSCRIBE = "subscribe";
export const UNSUBSCRIBE = "unsubscribe";
export const END = "end";

// session actions (SessionAction)
export const SEND = "send";
export const PUBLISHED = "published";
export const SUBSCRIBED = "subscribed";
export const UNSUBSCRIBED = "unsubscribed";
export const FAILED = "failed";
export const MESSAGE = "message";
export const PERSIST = "persist";
export const CLOSE = "close";

// packet types (packets.ts); PUBLISH and AUTH are an event / action type too
export const PUBLISH = "publish";
export const PUBACK = "puback";
export const PUBREC = "pubrec";
export const PUBREL = "pubrel";
export const PUBCOMP = "pubcomp";
export const CONNECT = "connect";
export const CONNACK = "connack";
export const SUBACK = "suback";
export const UNSUBACK = "unsuback";
export const PINGRESP = "pingresp";
export const PINGREQ = "pingreq";
export const DISCONNECT = "disconnect";
export const AUTH = "auth";

// session states (SessionState); CONNECTED is an action type too
export const DISCONNECTED = "disconnected";
export const CONNECTING = "connecting";
export const CONNECTED = "connected";
export const ENDING = "ending";
export const ENDED = "ended";
