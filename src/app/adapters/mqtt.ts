/**
 * `MqttConnector` over mote's MQTT client (src/mqtt): the client reconnects by
 * itself with backoff and keeps QoS 1 messages in its session (offline queue,
 * in-flight window) across reconnects — what the device program relies on.
 * This adapter only maps events and counts what is waiting.
 */
import { connect, type MqttClient } from "../../mqtt/index.js";
import type { MqttConnector, MqttLink, MqttLinkEvent, MqttLinkOptions } from "../ports.js";

export interface MqttAdapterOptions {
  /** Protocol version: 4 = MQTT 3.1.1 (default, widest broker support), 5 = MQTT 5.0. */
  protocolVersion?: 4 | 5;
  /** Offline queue bound, messages (the client's queueMaxMessages). Default 100. */
  queueMaxMessages?: number;
  /** Offline queue bound, bytes. Default 32768. */
  queueMaxBytes?: number;
  /** Reconnect backoff of the client. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number; stableAfterMs?: number };
}

export function mqttConnector(adapter: MqttAdapterOptions = {}): MqttConnector {
  return (options: MqttLinkOptions, onEvent: (event: MqttLinkEvent) => void): MqttLink => {
    const maxQueue = adapter.queueMaxMessages ?? 100;
    let waiting = 0; // QoS 1 publishes not yet acknowledged (queued or in flight)
    let lastError = "connecting";
    const client: MqttClient = connect({
      host: options.host,
      port: options.port,
      protocol: options.tls ? "mqtts" : "mqtt",
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      keepAlive: options.keepAliveS,
      clean: options.cleanSession,
      protocolVersion: adapter.protocolVersion ?? 4,
      will: { topic: options.will.topic, payload: options.will.payload, qos: options.will.qos, retain: options.will.retain },
      queueMaxMessages: maxQueue,
      queueMaxBytes: adapter.queueMaxBytes ?? 32_768,
      queuePolicy: "reject",
      reconnect: adapter.reconnect ?? { initialDelayMs: 500, maxDelayMs: 30_000, stableAfterMs: 30_000 },
    });
    client.on("connect", (info) => onEvent({ type: "connect", sessionPresent: info.sessionPresent }));
    client.on("error", (e) => {
      lastError = e.code;
    });
    client.on("offline", () => onEvent({ type: "offline", reason: lastError }));
    client.on("message", (topic, payload, packet) =>
      onEvent({ type: "message", topic, payload, responseTopic: packet.properties?.responseTopic }),
    );
    return {
      get queueDepth() {
        return waiting;
      },
      publish(topic, payload, o) {
        if (o.qos === 1 && waiting >= maxQueue) return false;
        if (o.qos === 1) waiting++;
        client.publish(topic, payload, { qos: o.qos, retain: o.retain ?? false }).then(
          () => {
            if (o.qos === 1) waiting--;
          },
          (e: { code?: string }) => {
            if (o.qos === 1) waiting--;
            if (e?.code !== "ended") onEvent({ type: "dropped", reason: e?.code ?? "error" });
          },
        );
        return true;
      },
      subscribe(filter, qos) {
        client.subscribe(filter, undefined, { qos }).catch((e: { code?: string }) => {
          lastError = e?.code ?? "subscribe-failed";
        });
      },
      end() {
        void client.end({ force: true });
      },
    };
  };
}
