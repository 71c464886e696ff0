/**
 * OTA for the default program: mote's agent (src/ota/device.ts) when an OTA
 * public key is configured, and the boot health check that keeps a freshly
 * updated image only once WiFi and (when a broker is configured) MQTT come up
 * in time — else the previous image boots again (docs/ota.md).
 *
 *   startDevice({ otaFactory: platformOta, reboot: restart });
 */
import { createDeviceBootGuard, createDeviceOtaAgent } from "../ota/device.js";
import { firmwareStatus } from "../platform/ota.js";
import { log } from "../platform/log.js";
import type { OtaFactory } from "./program.js";

export const platformOta: OtaFactory = (config, build) => {
  if (config.otaKey === undefined) return undefined;
  const agent = createDeviceOtaAgent({ publicKey: config.otaKey, board: build.board, runningVersion: build.version });
  // An image booted for the first time after an update is "pending-verify" until
  // the health check keeps it (committed) or gives it up (rolled back): both are logged.
  const status = firmwareStatus();
  const pending = status.state === "pending-verify";
  if (pending) log("info", `ota: booted v${build.version} from ${status.running}, pending its health check`);
  const guard = createDeviceBootGuard({
    requireMqtt: config.broker !== undefined,
    requireSelfTest: false,
    onVerdict: (verdict) => {
      if (verdict === "valid") {
        if (pending) log("info", `ota: v${build.version} committed (${status.running} kept: health check passed)`);
      } else log("warn", `ota: v${build.version} ${verdict}${pending ? "; rolling back to the previous image" : ""}`);
    },
  });
  return {
    port: agent,
    onLink: (link, up) => (link === "wifi" ? guard.wifi(up) : guard.mqtt(up)),
  };
};
