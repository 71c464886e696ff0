/**
 * OTA for the default program: mote's agent (src/ota/device.ts) when an OTA
 * public key is configured, and the boot health check that keeps a freshly
 * updated image only once WiFi and (when a broker is configured) MQTT come up
 * in time — else the previous image boots again (docs/ota.md).
 *
 *   startDevice({ otaFactory: platformOta, reboot: restart });
 */
import { createDeviceBootGuard, createDeviceOtaAgent } from "../ota/device.js";
import type { OtaFactory } from "./program.js";

export const platformOta: OtaFactory = (config, build) => {
  if (config.otaKey === undefined) return undefined;
  const agent = createDeviceOtaAgent({ publicKey: config.otaKey, board: build.board, runningVersion: build.version });
  const guard = createDeviceBootGuard({ requireMqtt: config.broker !== undefined, requireSelfTest: false });
  return {
    port: agent,
    onLink: (link, up) => (link === "wifi" ? guard.wifi(up) : guard.mqtt(up)),
  };
};
