/**
 * `mote/ota-boot` — the small native module mote adds to the ESP32 build
 * (docs/ota.md, "Native module"), because Moddable's `esp32/ota` exposes no
 * JavaScript for ESP-IDF's app rollback. Its default export holds the
 * functions; each is one ESP-IDF call
 * (components/app_update/include/esp_ota_ops.h). The simulator's twin is
 * host-shim/node/ota-boot.ts.
 */
declare module "mote/ota-boot" {
  type SlotState = "empty" | "new" | "pending-verify" | "valid" | "invalid";
  interface OtaBoot {
    /** Label of esp_ota_get_running_partition(), e.g. "ota_0". */
    runningPartition(): string;
    /** Label of esp_ota_get_next_update_partition(NULL). */
    nextUpdatePartition(): string;
    /** esp_ota_get_state_partition(), mapped: NEW->"new", PENDING_VERIFY->"pending-verify", VALID->"valid", INVALID/ABORTED->"invalid", UNDEFINED->"empty". */
    partitionState(label: string): SlotState;
    /**
     * Verifies `byteLength` bytes of the partition against `sha256`
     * (esp_partition_get_sha256 over the range), then esp_ota_set_boot_partition().
     * Throws if either fails. `version`/`minVersion` are kept for the anti-rollback floor.
     */
    setBootPartition(
      label: string,
      image: { byteLength: number; sha256: ArrayBuffer | Uint8Array; version: string; minVersion?: string },
    ): void;
    /** esp_ota_mark_app_valid_cancel_rollback(); also raises the stored anti-rollback floor. */
    markValid(): void;
    /** Marks the running image invalid (esp_ota_mark_app_invalid_rollback_and_reboot without the reboot). */
    markInvalid(): void;
    /** esp_restart(). */
    restart(reason?: string): void;
    /** The anti-rollback floor stored in NVS ("" when none). */
    floorVersion(): string;
  }
  const otaBoot: OtaBoot;
  export type { SlotState, OtaBoot };
  export default otaBoot;
}
