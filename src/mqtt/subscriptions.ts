/**
 * A session's subscriptions: the table of filters it is subscribed to (kept
 * across connections, so they can be made again on a server that lost the
 * session, MQTT 5 §4.1) and the SUBSCRIBE / UNSUBSCRIBE requests waiting for
 * their SUBACK / UNSUBACK, by packet id. Both bounded by `maxSubscriptions`.
 * Sending and packet ids are the session's (session.ts); this keeps the books.
 */
import { MoteError } from "../errors.js";
import type { Properties, SubackPacket, Subscription, UnsubackPacket } from "./packets.js";
import { assertTopicFilter } from "./topic.js";
import { SUBACK, SUBSCRIBE } from "./names.js";

export interface Request {
  kind: "subscribe" | "unsubscribe";
  packetId: number;
  /** The caller's handle, returned in the session's actions (undefined for a re-subscription). */
  ref: unknown;
  subscriptions?: Subscription[];
  filters?: string[];
  properties?: Properties;
  /** Sent on this connection. */
  sent: boolean;
}

export class Subscriptions {
  /** Requests waiting for their answer, by packet id. */
  readonly requests = new Map<number, Request>();
  /** filter → how it was subscribed. */
  readonly #table = new Map<string, { subscription: Subscription; properties?: Properties }>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** Checks a subscribe before it is made (filters §4.7, QoS, the table's bound); throws MoteError. */
  checkSubscribe(subs: Subscription[]): void {
    if (subs.length === 0) throw new MoteError("invalid-filter", "no subscriptions");
    for (const s of subs) {
      assertTopicFilter(s.filter);
      if (s.qos !== 0 && s.qos !== 1 && s.qos !== 2) throw new MoteError("invalid-qos", `QoS ${s.qos}`);
    }
    let added = 0;
    for (const s of subs) if (!this.#table.has(s.filter)) added++;
    if (this.#table.size + added > this.#max) throw new MoteError("too-many-subscriptions", `more than ${this.#max} filters`);
    this.#checkRoom();
  }

  /** Checks an unsubscribe before it is made; throws MoteError. */
  checkUnsubscribe(filters: string[]): void {
    if (filters.length === 0) throw new MoteError("invalid-filter", "no filters");
    for (const f of filters) assertTopicFilter(f);
    this.#checkRoom();
  }

  /** Records a request (checked first) and what it changes in the table. */
  add(r: Request): void {
    if (r.kind === SUBSCRIBE) {
      for (const s of r.subscriptions!) this.#table.set(s.filter, r.properties ? { subscription: s, properties: r.properties } : { subscription: s });
    } else for (const f of r.filters!) this.#table.delete(f);
    this.requests.set(r.packetId, r);
  }

  /** The request a SUBACK / UNSUBACK answers, taken off the list; filters the server refused leave the table. */
  answer(p: SubackPacket | UnsubackPacket): Request | undefined {
    const r = this.requests.get(p.packetId);
    if (r === undefined || r.kind !== (p.type === SUBACK ? SUBSCRIBE : "unsubscribe")) return undefined;
    this.requests.delete(p.packetId);
    if (p.type === SUBACK) {
      r.subscriptions!.forEach((s, i) => {
        const code = p.reasonCodes[i] ?? 0x80;
        if (code >= 0x80) this.#table.delete(s.filter);
      });
    }
    return r;
  }

  /** The server has no session: a request for every filter not already on its way (`id` gives packet ids). */
  resubscribe(id: () => number | undefined): void {
    const pending = new Set<string>();
    for (const r of this.requests.values()) for (const s of r.subscriptions ?? []) pending.add(s.filter);
    for (const [filter, sub] of this.#table) {
      if (pending.has(filter)) continue;
      const packetId = id();
      if (packetId === undefined) break;
      const r: Request = { kind: "subscribe", packetId, ref: undefined, subscriptions: [sub.subscription], sent: false };
      if (sub.properties) r.properties = sub.properties;
      this.requests.set(packetId, r);
    }
  }

  #checkRoom(): void {
    if (this.requests.size >= this.#max) throw new MoteError("too-many-requests", `more than ${this.#max} subscribe/unsubscribe requests pending`);
  }
}
