/**
 * MQTT 5 topic aliases of one connection (§3.3.2.3.4): a number that stands
 * for a topic name, so a PUBLISH can carry the number instead of the name.
 * Both ways are bounded: outgoing by min(the server's Topic Alias Maximum,
 * `outgoingTopicAliases`), incoming by our own Topic Alias Maximum. Both
 * tables belong to the connection and are cleared when it ends.
 */
import type { PublishPacket } from "./packets.js";

export class TopicAliases {
  readonly #out = new Map<string, number>();
  #outMax = 0;
  readonly #in = new Map<number, string>();

  /** A new connection: the server allows `max` aliases toward it (0 = none). */
  start(max: number): void {
    this.clear();
    this.#outMax = max;
  }

  clear(): void {
    this.#out.clear();
    this.#in.clear();
    this.#outMax = 0;
  }

  /** The packet to send: first use of a topic sends topic + alias, later uses an empty topic + alias. */
  outgoing(p: PublishPacket): PublishPacket {
    if (this.#outMax === 0) return p;
    let alias = this.#out.get(p.topic);
    if (alias !== undefined) return { ...p, topic: "", properties: { ...p.properties, topicAlias: alias } };
    if (this.#out.size >= this.#outMax) return p; // table full: send the topic in full
    alias = this.#out.size + 1;
    this.#out.set(p.topic, alias);
    return { ...p, properties: { ...p.properties, topicAlias: alias } };
  }

  /**
   * Resolves an incoming PUBLISH's alias in place (`max`: our Topic Alias
   * Maximum). Returns what is wrong with it, if anything: an alias 0 or above
   * `max` is "topic-alias-invalid" (0x94), an unknown one a protocol error.
   */
  incoming(p: PublishPacket, max: number): "topic-alias-invalid" | "protocol-error" | undefined {
    const alias = p.properties?.topicAlias;
    if (alias === undefined) return undefined;
    if (alias > max) return "topic-alias-invalid";
    if (p.topic.length > 0) this.#in.set(alias, p.topic);
    else {
      const t = this.#in.get(alias);
      if (t === undefined) return "protocol-error";
      p.topic = t;
    }
    return undefined;
  }
}
