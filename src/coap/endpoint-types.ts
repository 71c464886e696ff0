/**
 * The vocabulary of the CoAP endpoint (endpoint.ts), in one place and without
 * logic: what goes in (`EndpointEvent`), what comes out (`EndpointAction`),
 * the options with their RFC 7252 §4.8 defaults, and the records the parts
 * keep per exchange. Read this first; the parts that use it are
 *   message-layer.ts     message ids, CON retransmission, duplicate detection (§4)
 *   blockwise.ts         Block1 uploads and Block2 downloads (RFC 7959)
 *   observe.ts           notification freshness and re-registration (RFC 7641)
 *   server-exchanges.ts  requests we answer and notifications we send
 *   endpoint.ts          the endpoint itself: client exchanges, and the dispatch
 */
import type { CoapMessage, CoapOption } from "./codec.js";

// ---------------------------------------------------------------------------
// Events and actions (the public API, re-exported by endpoint.ts)

export interface Peer {
  readonly address: string;
  readonly port: number;
}

/** A streamed upload body (RFC 7959 Block1): `read` returns exactly `length` bytes, fewer only at the end. */
export interface UploadSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

export interface RequestSpec {
  /** Method code (`Method.GET` ...). */
  method: number;
  /** Uri-Path, Uri-Query, Content-Format, Accept ... (no Block/Observe: the endpoint sets those). */
  options?: CoapOption[];
  payload?: Uint8Array | UploadSource;
  /** CON (default) or NON (§2.2). */
  confirmable?: boolean;
  /** Register as an observer (RFC 7641). */
  observe?: boolean;
  /** Deliver a Block2 body block by block instead of assembling it. */
  stream?: boolean;
  /** Preferred block size (16..1024) for Block1 and early Block2 negotiation. */
  blockSize?: number;
  /** Token to use instead of a random one (0–8 bytes). */
  token?: Uint8Array;
  /**
   * Start a Block2 download at this byte offset (RFC 7959 §2.4: any block may be
   * asked for). A multiple of `blockSize` (default 1024); for resuming a transfer.
   */
  offset?: number;
}

export interface ResponseSpec {
  code: number;
  options?: CoapOption[];
  payload?: Uint8Array;
}

export type EndpointEvent =
  | { type: "datagram"; peer: Peer; data: Uint8Array }
  | { type: "timer" }
  | { type: "request"; id: number; peer: Peer; request: RequestSpec }
  | { type: "ping"; id: number; peer: Peer }
  | { type: "cancel"; id: number; passive?: boolean }
  | { type: "respond"; exchange: number; response: ResponseSpec }
  | { type: "notify"; peer: Peer; token: Uint8Array; response: ResponseSpec; confirmable: boolean };

export type ExchangeFailure =
  | "timeout" // no ACK after MAX_RETRANSMIT, or no response in time
  | "reset" // the peer answered RST
  | "cancelled"
  | "queue-full" // NSTART queue or exchange table full
  | "too-large" // assembled body over maxBodyBytes
  | "block-mismatch" // the server broke the block sequence or changed the ETag
  | "bad-response"; // the response could not be accepted (unknown critical option ...)

export type EndpointAction =
  /**
   * A datagram to send now. The bytes of an Empty ACK or RST are written over by the
   * next one: send (or copy) them before the endpoint's next handle().
   */
  | { type: "send"; peer: Peer; data: Uint8Array }
  /** The final response of a client exchange (body assembled unless `stream`). */
  | { type: "response"; id: number; response: CoapMessage }
  /** One Block2 block of a streamed body; `offset` is its position in the body. */
  | { type: "block"; id: number; offset: number; data: Uint8Array; more: boolean; response: CoapMessage }
  /** A fresh Observe notification (the registration response included). */
  | { type: "notification"; id: number; response: CoapMessage }
  | { type: "failed"; id: number; code: ExchangeFailure }
  | { type: "pong"; id: number }
  /** Server side: a request to answer with a `respond` event. */
  | { type: "incoming"; exchange: number; peer: Peer; request: CoapMessage }
  /** Server side: an observer answered RST or stopped acknowledging (RFC 7641 §3.6, §4.5). */
  | { type: "observer-gone"; peer: Peer; token: Uint8Array };

export interface EndpointOptions {
  /** §4.8 ACK_TIMEOUT, ms (default 2000). */
  ackTimeoutMs?: number;
  /** §4.8 ACK_RANDOM_FACTOR (default 1.5). */
  ackRandomFactor?: number;
  /** §4.8 MAX_RETRANSMIT (default 4). */
  maxRetransmit?: number;
  /** §4.7 NSTART: outstanding exchanges per peer (default 1). */
  nstart?: number;
  /** Requests waiting for an NSTART slot; beyond it a request fails "queue-full" (default 8). */
  maxQueued?: number;
  /** Client exchanges alive at once, observations included (default 32). */
  maxExchanges?: number;
  /** Wait for a response after the ACK, or for a NON request (default MAX_TRANSMIT_WAIT 93 000 ms). */
  responseTimeoutMs?: number;
  /** §4.8.2 EXCHANGE_LIFETIME for duplicate detection (default 247 000 ms). */
  exchangeLifetimeMs?: number;
  /** Remembered (peer, message id) pairs; the oldest is forgotten when full (default 256). */
  maxDedup?: number;
  /**
   * Bytes of replies kept for answering duplicates (default 8192). Past it the
   * oldest replies are dropped; a duplicate of an idempotent request whose reply
   * was dropped is processed again, any other is ignored.
   */
  maxDedupBytes?: number;
  /** Largest assembled response body, bytes (default 16 384). */
  maxBodyBytes?: number;
  /** Token length for new requests, 0..8 (default 4). */
  tokenLength?: number;
  /** Default block size for Block1 uploads (default 1024). */
  blockSize?: number;
  /** Server: answer in the ACK if the application responds within this (default 500 ms). */
  piggybackWindowMs?: number;
  /** Server: requests awaiting the application's answer; beyond it 5.03 (default 16). */
  maxServerExchanges?: number;
  /**
   * Peers known at once (default 64, at most 65536): each gets a small number that keys
   * its message ids and tokens (peers.ts). When all are busy (an exchange, a request
   * being answered, a CON of ours unacknowledged), a datagram from another peer is
   * dropped, a request to one fails "queue-full" and a notification to one reports
   * `observer-gone`; otherwise the least recently used idle peer is forgotten.
   */
  maxPeers?: number;
  /** Observe: re-register this long after Max-Age ran out without a notification (default 2000 ms). */
  reregisterMarginMs?: number;
  /** Uniform random number in [0, 1): retransmission jitter, first message id, tokens. */
  random: () => number;
}

/** The options with every default filled in. */
export type ResolvedOptions = Required<EndpointOptions>;

// ---------------------------------------------------------------------------
// Records the parts keep (internal)

export interface Flight {
  mid: number;
  wire: Uint8Array;
  confirmable: boolean;
  retransmits: number;
  timeoutMs: number;
  /** Retransmission deadline while a CON is unacknowledged. */
  deadline: number | undefined;
}

export type ClientState = "queued" | "active" | "observing" | "cancelling";

/** A peer the endpoint knows (peers.ts `PeerTable`). */
export interface PeerEntry {
  /** 0 .. maxPeers - 1, reused only once the peer is forgotten. */
  readonly id: number;
  /** The peer's object, handed out in the actions for it. */
  readonly peer: Peer;
  /** The `now` of the last datagram from or exchange started with it (for eviction). */
  lastUsed: number;
  /** Client exchanges holding an NSTART slot to it (§4.7). */
  active: number;
}

export interface ClientExchange {
  id: number;
  peer: Peer;
  peerEntry: PeerEntry;
  spec: RequestSpec;
  token: Uint8Array;
  state: ClientState;
  ping: boolean;
  flight: Flight | undefined;
  /** When an answer must have arrived (after ACK / for NON). */
  responseDeadline: number | undefined;
  holdsSlot: boolean;
  // Block2 (RFC 7959 §2.4)
  b2Offset: number;
  b2Szx: number | undefined;
  b2Chunks: Uint8Array[];
  b2Length: number;
  /** A Block2 block was accepted: `etag` is the reference every later block must match. */
  b2Started: boolean;
  etag: Uint8Array | undefined;
  // Block1 (RFC 7959 §2.5)
  upload: UploadSource | undefined;
  b1Offset: number;
  b1Szx: number;
  b1Sent: number;
  // Observe (RFC 7641)
  lastSeq: number;
  lastSeqAt: number;
  acceptNext: boolean;
  reregisterAt: number | undefined;
  /** A notification's remaining blocks being fetched (RFC 7959 §2.6), or the observation it serves. */
  child: ClientExchange | undefined;
  parent: ClientExchange | undefined;
  /** For a child: the notification whose body it completes. */
  template: CoapMessage | undefined;
}

export interface ServerExchange {
  id: number;
  peer: Peer;
  /** The peer's id (peers.ts). */
  pid: number;
  request: CoapMessage;
  dedupKey: number;
  /** Piggyback window end; after it an empty ACK goes out (CON only). */
  deadline: number | undefined;
  separate: boolean;
}

export interface OutgoingCon {
  peer: Peer;
  /** The peer's id (peers.ts). */
  pid: number;
  token: Uint8Array;
  flight: Flight;
  notification: boolean;
}

