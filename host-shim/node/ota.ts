/**
 * Node twin of the firmware-slot host modules, over the simulated flash
 * (host-shim/node/flash.ts, partitions `ota_0`, `ota_1`, `otadata`, `xs`):
 *
 *   - default export `OTA`: Moddable's `esp32/ota` shape (`new OTA()`,
 *     `write(buffer)`, `complete()`, `cancel()`), writing the inactive slot;
 *   - named exports: the `mote/ota-boot` native module (docs/ota.md) that
 *     ESP-IDF's app-rollback calls sit behind on the device —
 *     runningPartition, nextUpdatePartition, partitionState,
 *     setBootPartition, markValid, markInvalid, restart, floorVersion;
 *   - simulator/test API: provisionSim, simulateBoot, bootRecord,
 *     onRestart.
 *
 * The simulated bootloader (`simulateBoot`) applies src/ota/boot.ts
 * `decideBoot` to the boot record kept in `otadata` by a two-sector journal
 * (src/ota/journal.ts) — the same rule as ESP-IDF with
 * CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, plus image verification by the
 * size and SHA-256 recorded at switch time. Every otadata update is a flash
 * operation, so power-cut tests can tear it like any other write.
 */
import { createHash } from "node:crypto";
import {
  decideBoot,
  decideModLoad,
  decodeBootRecord,
  decodeModRecord,
  EMPTY_SLOT,
  encodeBootRecord,
  encodeModRecord,
  markInvalid as recordInvalid,
  markValid as recordValid,
  modHealthy,
  NO_MOD,
  switchTo,
  type BootReason,
  type BootRecord,
  type ModRecord,
  type SlotIndex,
  type SlotState,
} from "../../src/ota/boot.js";
import { Journal, type JournalFlash } from "../../src/ota/journal.js";
import { openPartitionByLabel, setSlotResolver } from "./flash.js";

export const SLOT_LABELS = Object.freeze(["ota_0", "ota_1"] as const);
export type SlotLabel = (typeof SLOT_LABELS)[number];
/** Bytes at the start of the mod partition that make a mod loadable (written last by the updater). */
export const MOD_HEADER_BYTES = 16;
/** The mod partition's last two sectors hold the mod record journal. */
export const MOD_JOURNAL_SECTORS = 2;

function partition(name: string): JournalFlash & { byteLength: number } {
  const f = openPartitionByLabel(name);
  return {
    byteLength: f.byteLength,
    blockSize: f.blockSize,
    read: (offset, length) => new Uint8Array(f.read(offset, length)),
    write: (offset, data) => f.write(offset, data.length, data),
    erase: (sector) => f.erase(sector),
  };
}

function otadata(): Journal {
  return new Journal(partition("otadata"), 0);
}

function modJournal(): Journal {
  const xs = partition("xs");
  return new Journal(xs, xs.byteLength / xs.blockSize - MOD_JOURNAL_SECTORS);
}

const FACTORY: BootRecord = Object.freeze({ active: 0 as SlotIndex, attempts: 0, slots: [EMPTY_SLOT, EMPTY_SLOT] as const, floor: "" });

export function bootRecord(): BootRecord {
  const saved = otadata().load();
  return (saved && decodeBootRecord(saved.payload)) ?? FACTORY;
}

function saveBootRecord(r: BootRecord): void {
  otadata().save(encodeBootRecord(r));
}

export function modRecord(): ModRecord {
  const saved = modJournal().load();
  return (saved && decodeModRecord(saved.payload)) ?? NO_MOD;
}

export function saveModRecord(r: ModRecord): void {
  modJournal().save(encodeModRecord(r));
}

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

function imageOk(r: BootRecord, slot: SlotIndex): boolean {
  const s = r.slots[slot];
  const p = partition(SLOT_LABELS[slot]);
  if (s.size === 0 || s.size > p.byteLength) return false;
  const bytes = p.read(0, s.size);
  const digest = sha256(bytes);
  return digest.every((b, i) => b === s.sha256[i]);
}

interface Running {
  slot: SlotIndex;
}
let running: Running | undefined;
let restartHook: ((reason: string) => void) | undefined;

function current(): Running {
  if (running === undefined) running = { slot: bootRecord().active };
  return running;
}

// --- mote/ota-boot (native module on the device) ---------------------------------

export function runningPartition(): SlotLabel {
  return SLOT_LABELS[current().slot];
}

export function nextUpdatePartition(): SlotLabel {
  return SLOT_LABELS[1 - current().slot];
}

// Device code opens the slots as Moddable names them ("running", "nextota").
setSlotResolver((which) => (which === "running" ? runningPartition() : nextUpdatePartition()));

export function partitionState(label: string): SlotState {
  const i = SLOT_LABELS.indexOf(label as SlotLabel);
  if (i < 0) throw new Error(`no OTA partition "${label}"`);
  return bootRecord().slots[i].state;
}

export function runningVersion(): string {
  return bootRecord().slots[current().slot].version;
}

export function floorVersion(): string {
  return bootRecord().floor;
}

/** esp_ota_set_boot_partition: verifies the image, then makes it the one to boot next (state new). */
export function setBootPartition(label: string, image: { byteLength: number; sha256: ArrayBuffer | Uint8Array; version: string; minVersion?: string }): void {
  const target = SLOT_LABELS.indexOf(label as SlotLabel) as SlotIndex;
  if (target < 0) throw new Error(`no OTA partition "${label}"`);
  if (target === current().slot) throw new Error("cannot switch to the running partition");
  const digest = image.sha256 instanceof Uint8Array ? image.sha256 : new Uint8Array(image.sha256);
  const r = bootRecord();
  const candidate = switchTo(r, target, { size: image.byteLength, sha256: digest.slice(), version: image.version, minVersion: image.minVersion ?? "" });
  if (!imageOk(candidate, target)) throw new Error("image does not verify");
  saveBootRecord(candidate);
}

/** esp_ota_mark_app_valid_cancel_rollback */
export function markValid(): void {
  const r = bootRecord();
  if (r.active !== current().slot) return; // a switch is pending: the running image is already trusted
  const next = recordValid(r);
  if (next !== r) saveBootRecord(next);
}

/** esp_ota_mark_app_invalid_rollback_and_reboot, without the reboot (call restart()). */
export function markInvalid(): void {
  const r = bootRecord();
  if (r.active !== current().slot) return;
  saveBootRecord(recordInvalid(r));
}

export function restart(reason = "restart"): void {
  restartHook?.(reason);
}

// --- simulator / tests -------------------------------------------------------------

export function onRestart(hook: ((reason: string) => void) | undefined): void {
  restartHook = hook;
}

/** Factory-flashes `image` into a slot as the valid running firmware (erasing the other state). */
export function provisionSim(options: { image: Uint8Array; version: string; minVersion?: string; slot?: SlotIndex }): void {
  const slot = options.slot ?? 0;
  const p = partition(SLOT_LABELS[slot]);
  if (options.image.length > p.byteLength) throw new Error("image larger than the slot");
  for (let s = 0; s * p.blockSize < options.image.length; s++) p.erase(s);
  p.write(0, options.image);
  const r: BootRecord = {
    active: slot,
    attempts: 0,
    floor: options.minVersion ?? "",
    slots: slot === 0
      ? [{ state: "valid", size: options.image.length, sha256: sha256(options.image), version: options.version, minVersion: options.minVersion ?? "" }, EMPTY_SLOT]
      : [EMPTY_SLOT, { state: "valid", size: options.image.length, sha256: sha256(options.image), version: options.version, minVersion: options.minVersion ?? "" }],
  };
  saveBootRecord(r);
  const xs = partition("xs");
  xs.erase(0);
  saveModRecord(NO_MOD);
  running = { slot };
}

export interface SimBoot {
  readonly slot: SlotLabel | undefined;
  readonly version: string | undefined;
  readonly state: SlotState | undefined;
  readonly reason: BootReason;
  /** The booted image's bytes (the simulator evaluates them). */
  readonly image: Uint8Array | undefined;
  readonly mod: { readonly load: boolean; readonly version: string; readonly disabled: boolean };
}

/**
 * Power-on: the bootloader picks a slot (maxPendingBoots as ESP-IDF: 1), then
 * the base app decides whether to load the mod (crash counter).
 */
export function simulateBoot(options: { maxPendingBoots?: number; maxModCrashes?: number } = {}): SimBoot {
  const record = bootRecord();
  const d = decideBoot(record, (slot) => imageOk(record, slot), options.maxPendingBoots ?? 1);
  if (d.changed) saveBootRecord(d.record);
  running = d.boot === undefined ? undefined : { slot: d.boot };
  const slot = d.boot === undefined ? undefined : d.record.slots[d.boot];
  const xs = partition("xs");
  const header = xs.read(0, MOD_HEADER_BYTES);
  const headerPresent = !header.every((b) => b === 0xff);
  const mod = decideModLoad(modRecord(), headerPresent, options.maxModCrashes ?? 3);
  if (mod.disable) xs.erase(0);
  if (mod.record !== modRecord()) saveModRecord(mod.record);
  return {
    slot: d.boot === undefined ? undefined : SLOT_LABELS[d.boot],
    version: slot?.version,
    state: slot?.state,
    reason: d.reason,
    image: slot === undefined ? undefined : partition(SLOT_LABELS[d.boot!]).read(0, slot.size),
    mod: { load: mod.load, version: mod.record.version, disabled: mod.record.state === "disabled" },
  };
}

/** The running app reached health: the mod's crash counter resets too. */
export function modRunHealthy(): void {
  const r = modRecord();
  const next = modHealthy(r);
  if (next !== r) saveModRecord(next);
}

// --- esp32/ota (Moddable) ------------------------------------------------------------

/** Moddable's `esp32/ota`: sequential writes into the next update partition, `complete()` switches. */
export default class OTA {
  #label: SlotLabel;
  #offset = 0;
  #erased = 0;
  #hash = createHash("sha256");
  #open = true;

  constructor() {
    this.#label = nextUpdatePartition();
  }

  write(buffer: ArrayBuffer | ArrayBufferView): void {
    if (!this.#open) throw new Error("bad state");
    const data = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    const p = partition(this.#label);
    if (this.#offset + data.length > p.byteLength) throw new Error("write failed");
    while (this.#erased * p.blockSize < this.#offset + data.length) p.erase(this.#erased++);
    p.write(this.#offset, data);
    this.#hash.update(data);
    this.#offset += data.length;
  }

  complete(): void {
    if (!this.#open) throw new Error("bad state");
    this.#open = false;
    setBootPartition(this.#label, { byteLength: this.#offset, sha256: new Uint8Array(this.#hash.digest()), version: "" });
  }

  cancel(): void {
    this.#open = false;
  }
}
