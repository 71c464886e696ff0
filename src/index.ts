/**
 * mote as a library: the public API of every area, for applications that
 * write their own `main` instead of running the default device program.
 *
 *   import { mqtt, coap, startDevice, Supervisor } from "mote";
 *   const client = mqtt.connect("mqtt://10.0.0.2");
 *   const r = await coap.get("coap://10.0.0.3/sensors/temp");
 *
 * Protocol areas are namespaces (their names overlap: `connect`, `get`, ...);
 * the runtime and the device program are exported by name.
 */
export * as mqtt from "./mqtt/index.js";
export * as coap from "./coap/index.js";
export * as net from "./net/index.js";
export * as ota from "./ota/index.js";

export { MoteError } from "./errors.js";
export { encodeUtf8, decodeUtf8, utf8Length } from "./util/utf8.js";

// runtime: configuration, backoff, supervision, health
export {
  buildConfig,
  normalizeConfigValue,
  parseBrokerUrl,
  parseBrokerList,
  maskBrokerCredentials,
  defaultClientId,
  describeConfig,
  ConfigError,
  CONFIG_KEYS,
  CONFIG_DOMAIN,
  MAX_OBSERVE_URIS,
} from "./runtime/config.js";
export type { Config, ConfigKey, ConfigErrorCode, BuiltConfig, BrokerAddress } from "./runtime/config.js";
export { loadConfig, preferenceStore } from "./runtime/load-config.js";
export { Backoff, seededRandom } from "./runtime/backoff.js";
export type { BackoffOptions } from "./runtime/backoff.js";
export { SupervisorCore } from "./runtime/supervisor-core.js";
export type { PartState, PartHealth, SupervisorEvent, SupervisorAction, SupervisorOptions } from "./runtime/supervisor-core.js";
export { Supervisor } from "./runtime/supervisor.js";
export type { Part, PartContext } from "./runtime/supervisor.js";
export { platformHost } from "./runtime/platform-host.js";
export { createLogger } from "./runtime/host.js";
export type { Host, Logger, AlarmLike, LogLevel } from "./runtime/host.js";
export { isHealthy } from "./runtime/health.js";
export type { DeviceStatus, Counters, WifiState, MqttState } from "./runtime/health.js";

// the device program
export { DeviceApp } from "./app/device.js";
export type { DeviceAppOptions } from "./app/device.js";
export { startDevice, demoSensor, PROGRAM_VERSION } from "./app/program.js";
export type { DeviceOptions, OtaFactory } from "./app/program.js";
export { platformOta } from "./app/ota.js";
export { platformCoap } from "./app/adapters/coap.js";
export { parseCommand, topicsFor, CommandError } from "./app/commands.js";
export type { Command, CommandErrorCode, Topics } from "./app/commands.js";
export type {
  SensorSource,
  OtaPort,
  CoapPort,
  MqttConnector,
  MqttLink,
  MqttLinkEvent,
  MqttLinkOptions,
  WifiPort,
  ConfigStore,
  SystemPort,
} from "./app/ports.js";
