/** mote MQTT client — public API (docs/mqtt.md). */
export { connect, MqttClient, MqttRequestError, MqttConnectionError, parseMqttUrl } from "./client.js";
export type { ClientOptions, PublishOptions, SubscribeOptions, MessageHandler, ReconnectOptions, ClientEvents } from "./client.js";
export { MqttProtocolError } from "./errors.js";
export { PreferenceSessionStore, MemorySessionStore } from "./store.js";
export type { SessionStore, PreferenceApi } from "./store.js";
export { topicMatches } from "./topic.js";
export { ReasonCode, reasonName } from "./reason-codes.js";
export type { QoS, Properties, PublishPacket, ProtocolVersion, Will } from "./packets.js";
