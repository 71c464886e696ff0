/**
 * Firmware and mod update facade (the platform side of src/ota/agent.ts).
 *
 * Firmware (A/B): the inactive app slot is written through Moddable's
 * `flash` module, opened by its partition label — not through `esp32/ota`,
 * whose `esp_ota_begin(OTA_SIZE_UNKNOWN)` erases the whole slot in one call
 * (seconds with the watchdog starved) and which can only append, so it
 * cannot resume at an offset. Switching, confirming and rolling back go
 * through the `mote/ota-boot` native module (ESP-IDF app rollback).
 *
 * Mod (app-only): the Moddable archive lives at the start of the `xs`
 * partition; the last two sectors of that partition hold the mod record
 * (a two-sector journal: state, version, crash counter).
 */
import boot, { type SlotState as BootSlotState } from "mote/ota-boot";
import type { OtaTarget } from "../ota/agent.js";
import { decideModLoad, decodeModRecord, encodeModRecord, modHealthy, NO_MOD, type ModRecord } from "../ota/boot.js";
import type { UpdateKind } from "../ota/descriptor.js";
import { Journal } from "../ota/journal.js";
import type { SlotGeometry } from "../ota/updater.js";
import { openFlash, type FlashPartition } from "./flash.js";

export const MOD_PARTITION = "xs";
const MOD_JOURNAL_SECTORS = 2;
/** Leading mod bytes that make the archive loadable (the updater writes them last). */
export const MOD_HEADER_BYTES = 16;

export type SlotState = BootSlotState;

function modJournal(xs: FlashPartition): Journal {
  return new Journal(xs, xs.byteLength / xs.blockSize - MOD_JOURNAL_SECTORS);
}

export function readModRecord(): ModRecord {
  const saved = modJournal(openFlash(MOD_PARTITION)).load();
  return (saved && decodeModRecord(saved.payload)) ?? NO_MOD;
}

/** The running firmware slot and its state ("pending-verify" right after an update). */
export function firmwareStatus(): { running: string; state: SlotState; next: string } {
  const running = boot.runningPartition();
  return { running, state: boot.partitionState(running), next: boot.nextUpdatePartition() };
}

/** Health check passed: keep this firmware (cancels the pending rollback) and reset the mod crash counter. */
export function markRunningValid(): void {
  boot.markValid();
  const xs = openFlash(MOD_PARTITION);
  const journal = modJournal(xs);
  const saved = journal.load();
  const record = (saved && decodeModRecord(saved.payload)) ?? NO_MOD;
  const next = modHealthy(record);
  if (next !== record) journal.save(encodeModRecord(next));
}

/** Health check failed: mark this firmware invalid and restart into the previous one. */
export function rollbackAndRestart(reason: string): void {
  boot.markInvalid();
  boot.restart(reason);
}

export function restart(reason: string): void {
  boot.restart(reason);
}

/**
 * Called by the base app at boot, before importing the mod: counts the boot,
 * and disables (erases the header of) a mod that keeps crashing.
 */
export function shouldLoadMod(maxModCrashes = 3): { load: boolean; version: string; disabled: boolean } {
  const xs = openFlash(MOD_PARTITION);
  const journal = modJournal(xs);
  const saved = journal.load();
  const record = (saved && decodeModRecord(saved.payload)) ?? NO_MOD;
  const header = xs.read(0, MOD_HEADER_BYTES);
  const d = decideModLoad(record, !header.every((b) => b === 0xff), maxModCrashes);
  if (d.disable) xs.erase(0);
  if (d.record !== record) journal.save(encodeModRecord(d.record));
  return { load: d.load, version: d.record.version, disabled: d.record.state === "disabled" };
}

/** The OtaTarget the agent writes through. Partitions are opened per update. */
export function platformOtaTarget(): OtaTarget {
  let firmware: { label: string; flash: FlashPartition } | undefined;
  let xs: FlashPartition | undefined;
  const open = (kind: UpdateKind): FlashPartition => {
    if (kind === "mod") return (xs ??= openFlash(MOD_PARTITION));
    // The next update slot follows the running one, which only changes at a reboot.
    if (firmware === undefined) {
      // Moddable's flash module opens app slots only as "nextota"/"running",
      // never by label (it looks labels up among data partitions).
      const label = boot.nextUpdatePartition();
      firmware = { label, flash: openFlash("nextota") };
    }
    return firmware.flash;
  };
  return {
    geometry(kind: UpdateKind): SlotGeometry | undefined {
      try {
        const p = open(kind);
        return kind === "mod"
          ? { byteLength: p.byteLength - MOD_JOURNAL_SECTORS * p.blockSize, blockSize: p.blockSize }
          : { byteLength: p.byteLength, blockSize: p.blockSize };
      } catch {
        return undefined;
      }
    },
    erase(kind, sector) {
      open(kind).erase(sector);
    },
    write(kind, offset, data) {
      open(kind).write(offset, data);
    },
    activate(kind, image) {
      if (kind === "firmware") {
        boot.setBootPartition(firmware?.label ?? boot.nextUpdatePartition(), {
          byteLength: image.size,
          sha256: image.sha256,
          version: image.version,
          minVersion: image.minVersion,
        });
      } else {
        modJournal(open("mod")).save(encodeModRecord({ state: "installed", version: image.version, boots: 0 }));
      }
    },
    floorVersion() {
      const f = boot.floorVersion();
      return f === "" ? undefined : f;
    },
    modVersion() {
      const r = readModRecord();
      return r.state === "installed" ? r.version : undefined;
    },
  };
}
