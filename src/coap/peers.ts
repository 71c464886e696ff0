/**
 * Keys without strings for the endpoint's tables (a string built per datagram is
 * a chunk of garbage on XS, docs/moddable.md):
 * - `PeerTable`: each peer the endpoint talks to gets a small integer id, so a
 *   message id from it is the number `midKey(id, mid)` (message-layer.ts) (RFC 7252 §4.4/§4.5: the
 *   message id is unique per peer, not per endpoint). The table is bounded: when
 *   full, the endpoint gives the entry of the least recently used idle peer to the
 *   new one (endpoint.ts `#evictIdlePeer`), after dropping what it kept under that
 *   id; an id is reused only then.
 * - `TokenTable`: client exchanges by (peer, token) (§5.3.2: the token matches a
 *   response to its request, per peer). A token of up to 4 bytes (mote's default
 *   length) is part of a number key with the peer's id and the token's length;
 *   longer tokens, which only the application chooses, are found by a scan of the
 *   few exchanges that have one.
 */
import type { ClientExchange, Peer, PeerEntry } from "./endpoint-types.js";
import { sameBytes } from "./message-layer.js";

/** Peers at most: `tokenKey` has room for an 18-bit peer id. */
export const MAX_PEERS_LIMIT = 0x10000;

export class PeerTable {
  readonly #entries: (PeerEntry | undefined)[] = [];
  readonly #max: number;
  #size = 0;
  /** The entry found last: a socket mostly talks to one peer. */
  #last: PeerEntry | undefined;

  constructor(max: number) {
    this.#max = max;
  }

  get full(): boolean {
    return this.#size >= this.#max;
  }

  /** The entries, by id (holes are undefined). */
  get entries(): readonly (PeerEntry | undefined)[] {
    return this.#entries;
  }

  find(address: string, port: number): PeerEntry | undefined {
    const last = this.#last;
    if (last !== undefined && last.peer.port === port && last.peer.address === address) return last;
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e !== undefined && e.peer.port === port && e.peer.address === address) return (this.#last = e);
    }
    return undefined;
  }

  /** Adds `peer` under the lowest free id; the table must not be full. */
  add(peer: Peer, now: number): PeerEntry {
    const entries = this.#entries;
    let id = 0;
    while (id < entries.length && entries[id] !== undefined) id++;
    const e: PeerEntry = { id, peer, lastUsed: now, active: 0 };
    entries[id] = e;
    this.#size++;
    return (this.#last = e);
  }

  remove(e: PeerEntry): void {
    if (this.#entries[e.id] !== e) return;
    this.#entries[e.id] = undefined;
    this.#size--;
    if (this.#last === e) this.#last = undefined;
  }
}

/** A number key for a token of up to 4 bytes from the peer `pid`: id, value and length (so 00 and 0000 differ). */
function tokenKey(pid: number, token: Uint8Array): number {
  let v = 0;
  for (let i = 0; i < token.length; i++) v = v * 256 + token[i];
  return (pid * 0x100000000 + v) * 8 + token.length; // < 2^53 for pid < 2^18
}

const SHORT_TOKEN = 4;

export class TokenTable {
  readonly #short = new Map<number, ClientExchange>();
  /** Exchanges with tokens of 5 to 8 bytes (RFC 7252 §5.3.1 allows up to 8). */
  readonly #long: ClientExchange[] = [];

  get(pid: number, token: Uint8Array): ClientExchange | undefined {
    if (token.length <= SHORT_TOKEN) return this.#short.get(tokenKey(pid, token));
    const long = this.#long;
    for (let i = 0; i < long.length; i++) if (long[i].peerEntry.id === pid && sameBytes(long[i].token, token)) return long[i];
    return undefined;
  }

  has(pid: number, token: Uint8Array): boolean {
    return this.get(pid, token) !== undefined;
  }

  /** Files `ex` under its peer and token, which no other exchange uses. */
  add(ex: ClientExchange): void {
    if (ex.token.length <= SHORT_TOKEN) this.#short.set(tokenKey(ex.peerEntry.id, ex.token), ex);
    else this.#long.push(ex);
  }

  delete(ex: ClientExchange): void {
    if (ex.token.length <= SHORT_TOKEN) {
      const key = tokenKey(ex.peerEntry.id, ex.token);
      if (this.#short.get(key) === ex) this.#short.delete(key);
      return;
    }
    const i = this.#long.indexOf(ex);
    if (i >= 0) this.#long.splice(i, 1);
  }
}
