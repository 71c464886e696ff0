/**
 * OTA for the default program: mote's agent (src/ota/device.ts) when an OTA
 * public key is configured, and the boot health check that keeps a freshly
 * updated image only once WiFi and (when a broker is configured) MQTT come up
 * in time — and, when the build gives one, its self-test passes — else the
 * previous image boots again (docs/ota.md).
 *
 *   startDevice({ otaFactory: platformOta, reboot: restart });
 *   startDevice({ otaFactory: otaWithSelfTest(() => sensorAnswers() || "sensor: no answer"), reboot: restart });
 */
import { createDeviceBootGuard, createDeviceOtaAgent } from "../ota/device.js";
import { firmwareStatus } from "../platform/ota.js";
import { log } from "../platform/log.js";
import type { OtaFactory } from "./program.js";

/** A build's self-test, run once WiFi and MQTT are up: true, or why it failed. */
export type SelfTest = () => true | string;

/** `platformOta` with the build's self-test as part of the health check. */
export function otaWithSelfTest(selfTest: SelfTest | undefined): OtaFactory {
  return (config, build) => {
    if (config.otaKey === undefined) return undefined;
    const agent = createDeviceOtaAgent({ publicKey: config.otaKey, board: build.board, runningVersion: build.version });
    // An image booted for the first time after an update is "pending-verify" until
    // the health check keeps it (committed) or gives it up (rolled back): both are logged.
    const status = firmwareStatus();
    const pending = status.state === "pending-verify";
    if (pending) log("info", `ota: booted v${build.version} from ${status.running}, pending its health check`);
    const guard = createDeviceBootGuard({
      requireMqtt: config.broker !== undefined,
      requireSelfTest: selfTest !== undefined,
      onVerdict: (verdict) => {
        if (verdict === "valid") {
          if (pending) log("info", `ota: v${build.version} committed (${status.running} kept: health check passed)`);
        } else log("warn", `ota: v${build.version} ${verdict}${pending ? "; rolling back to the previous image" : ""}`);
      },
    });
    const up = { wifi: false, mqtt: config.broker === undefined };
    let tested = false;
    return {
      port: {
        start: (payload, onEvent) => agent.start(payload, onEvent),
        setPublicKey: (key) => agent.setPublicKey(key),
        firmware: () => {
          const f = firmwareStatus();
          return { slot: f.running, state: f.state };
        },
      },
      onLink: (link, isUp) => {
        if (link === "wifi") guard.wifi(isUp);
        else guard.mqtt(isUp);
        up[link] = isUp;
        // the self-test once, when the links it may need are up
        if (selfTest !== undefined && !tested && up.wifi && up.mqtt) {
          tested = true;
          let verdict: true | string;
          try {
            verdict = selfTest();
          } catch (e) {
            verdict = e instanceof Error ? e.message : String(e);
          }
          if (verdict === true) guard.selfTest(true);
          else guard.selfTest(false, verdict);
        }
      },
    };
  };
}

export const platformOta: OtaFactory = otaWithSelfTest(undefined);
