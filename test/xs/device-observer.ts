/**
 * Broker-side view for the XS-tier device tests: an MQTT.js subscriber with a
 * persistent session (so nothing published while it reconnects is lost), and
 * helpers to wait for messages. Every wait is bounded.
 */
import mqtt, { type MqttClient } from "mqtt";
import { startSimulation, type Simulation, type SimulationOptions } from "../../host-shim/sim/simulation.js";
import { bundleForXs } from "../../host-shim/xs/engine.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Seen {
  topic: string;
  text: string;
  retain: boolean;
  qos: number;
}

export class Observer {
  readonly seen: Seen[] = [];
  readonly #waiters = new Set<() => void>();
  private constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      this.seen.push({ topic, text: payload.toString(), retain: packet.retain, qos: packet.qos });
      for (const w of this.#waiters) w();
    });
  }

  static async connect(url: string, filter = "#", clientId = `observer-${Math.random().toString(16).slice(2, 10)}`): Promise<Observer> {
    const client = mqtt.connect(url, { clientId, clean: false, reconnectPeriod: 200, connectTimeout: 5000 });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    await client.subscribeAsync(filter, { qos: 1 });
    return new Observer(client);
  }

  on(topic: string): Seen[] {
    return this.seen.filter((m) => m.topic === topic);
  }

  json<T = Record<string, unknown>>(topic: string): T[] {
    return this.on(topic).map((m) => JSON.parse(m.text) as T);
  }

  /** Resolves when `predicate()` holds; rejects after `timeoutMs` with `what`. */
  until(predicate: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (predicate()) {
          clearTimeout(timer);
          this.#waiters.delete(check);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timeout after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(this.seen.slice(-5))}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  publish(topic: string, payload: string, options: { qos?: 0 | 1; properties?: Record<string, unknown> } = {}): Promise<unknown> {
    return this.client.publishAsync(topic, payload, { qos: options.qos ?? 1 });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** A simulation with the freshly bundled program and a private state folder. */
export async function simulate(options: SimulationOptions & { entry?: string } = {}): Promise<Simulation> {
  const entry = options.entry ?? "src/app/main.ts";
  return startSimulation({
    state: mkdtempSync(join(tmpdir(), "mote-sim-")),
    bundle: () => bundleForXs(entry),
    pollMs: 250,
    ...options,
  });
}

/** Sequence numbers of telemetry records: strictly consecutive per boot? Returns the gaps. */
export function gaps(seqs: number[]): number[] {
  const missing: number[] = [];
  for (let i = 1; i < seqs.length; i++) for (let s = seqs[i - 1] + 1; s < seqs[i]; s++) missing.push(s);
  return missing;
}
