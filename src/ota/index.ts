/**
 * mote OTA: the public API for applications that drive updates themselves.
 * The default device program wires these into the MQTT `cmd/ota` command
 * (docs/ota.md); pure parts (descriptor, updater, boot rules) import nothing
 * from the platform, the device glue (`createDeviceOtaAgent`, `createDeviceBootGuard`,
 * `startPeriodicOtaCheck`) binds them to it.
 */
export {
  parseDescriptor,
  validateDescriptor,
  canonicalDescriptorBytes,
  encodeDescriptor,
  descriptorSignatureValid,
  checkDescriptor,
  acceptDescriptor,
} from "./descriptor.js";
export type { Descriptor, UnsignedDescriptor, UpdateKind, UpdatePolicy } from "./descriptor.js";
export { OtaError } from "./errors.js";
export { Updater } from "./updater.js";
export type { UpdaterOptions, UpdaterEvent, UpdaterAction, UpdaterState, UpdatePhase } from "./updater.js";
export { OtaAgent, parseOtaCommand, httpFetcher, periodicCheck } from "./agent.js";
export type { OtaAgentEvent, OtaAgentOptions, Fetcher } from "./agent.js";
export { coapFetcher } from "./coap-fetcher.js";
export type { CoapDownloader } from "./coap-fetcher.js";
export { createDeviceOtaAgent, createDeviceBootGuard, startPeriodicOtaCheck } from "./device.js";
export type { DeviceOtaOptions } from "./device.js";
