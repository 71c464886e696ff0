/** Every fuzz target, by name (one file per decoder area under fuzz/targets/). */
import type { FuzzTarget } from "../engine.js";
import { cliTarget } from "./cli.js";
import { coapTarget } from "./coap.js";
import { commandTarget, configTarget } from "./config.js";
import { httpTarget } from "./http.js";
import { linkFormatTarget } from "./linkformat.js";
import { mqttTarget } from "./mqtt.js";
import { descriptorTarget, otaCommandTarget, otaKeyTarget, semverTarget } from "./ota.js";
import { pemTarget } from "./pem.js";
import { signedMessageTarget, trustRecordTarget } from "./signed.js";
import { sntpTarget } from "./sntp.js";
import { coapEndpointTarget, mqttSessionTarget } from "./sessions.js";
import { storeTarget } from "./store.js";
import { urlTarget } from "./urls.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const TARGETS: readonly FuzzTarget<any>[] = Object.freeze([
  mqttTarget,
  coapTarget,
  linkFormatTarget,
  descriptorTarget,
  otaCommandTarget,
  otaKeyTarget,
  semverTarget,
  httpTarget,
  urlTarget,
  configTarget,
  commandTarget,
  cliTarget,
  storeTarget,
  mqttSessionTarget,
  coapEndpointTarget,
  pemTarget,
  signedMessageTarget,
  trustRecordTarget,
  sntpTarget,
]);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function targetByName(name: string): FuzzTarget<any> | undefined {
  return TARGETS.find((t) => t.name === name);
}
