/**
 * mote MQTT client without the persistent session store (docs/mqtt.md, docs/size.md).
 *
 * `index.ts` is this plus `PreferenceSessionStore` / `MemorySessionStore`. An
 * application that keeps no session across reboots imports from here (or
 * lets its bundler tree-shake `index.ts`) and does not carry store.ts; one
 * that does imports the store from `./store.js` and passes it as
 * `ClientOptions.store` (client.ts only needs its type).
 */
export { connect, MqttClient, MqttRequestError, MqttConnectionError, parseMqttUrl, parseMqttUrls } from "./client.js";
export type { ClientOptions, PublishOptions, SubscribeOptions, MessageHandler, ReconnectOptions, ClientEvents, BrokerTarget } from "./client.js";
export { MqttProtocolError } from "./errors.js";
export type { SessionStore } from "./store.js";
export { topicMatches } from "./topic.js";
export { ReasonCode, reasonName } from "./reason-codes.js";
export type { QoS, Properties, PublishPacket, ProtocolVersion, Will } from "./packets.js";
