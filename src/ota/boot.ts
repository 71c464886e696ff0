/**
 * Boot and rollback rules, pure.
 *
 * Firmware (A/B slots) — the rule ESP-IDF's bootloader applies with
 * CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (esp_ota_ops: NEW -> PENDING_VERIFY
 * -> VALID, or ABORTED), restated here so the simulator's bootloader and the
 * tests share one definition:
 *   - a slot just switched to is `new`; its first boot makes it
 *     `pending-verify` (attempt 1);
 *   - booting a slot still `pending-verify` means the previous boot never
 *     confirmed it (health check failed, crash, power cut): after
 *     `maxPendingBoots` attempts (default 1, IDF's behaviour) it becomes
 *     `invalid` and the other slot boots — the rollback;
 *   - a slot whose image does not check out (size/hash recorded at switch
 *     time) is `invalid`;
 *   - the running app marks its slot `valid` once its health check passes,
 *     which also raises the anti-rollback floor to the image's minVersion.
 *
 * Mods (app-only archive in the `xs` partition) — the mod is loadable only
 * when its header is written (the updater writes it last). Each boot that
 * loads it counts; a healthy run resets the count; after `maxModCrashes`
 * consecutive unhealthy boots the mod is disabled (header erased) and the
 * base app runs alone.
 *
 * Health check — `HealthCheck` is a sans-I/O core: WiFi up, MQTT connected
 * and the app's self-test passing before `deadlineMs` -> `mark-valid`;
 * the deadline passing first -> `rollback`.
 */
import { MoteError } from "../errors.js";
import { decodeUtf8, encodeUtf8 } from "../util/utf8.js";
import { compareVersions } from "./semver.js";

export type SlotState = "empty" | "new" | "pending-verify" | "valid" | "invalid";
export type SlotIndex = 0 | 1;

export interface SlotRecord {
  readonly state: SlotState;
  readonly size: number;
  /** 32-byte SHA-256 of the image, as verified by the updater. */
  readonly sha256: Uint8Array;
  readonly version: string;
  readonly minVersion: string;
}

export interface BootRecord {
  readonly active: SlotIndex;
  /** Boots of the active slot while it is pending-verify. */
  readonly attempts: number;
  readonly slots: readonly [SlotRecord, SlotRecord];
  /** Anti-rollback floor ("" = none). */
  readonly floor: string;
}

export type BootReason = "normal" | "first-boot" | "retry-pending" | "rollback" | "image-invalid" | "no-bootable-image";

export interface BootDecision {
  /** Slot to run, or undefined when neither slot holds a bootable image. */
  readonly boot: SlotIndex | undefined;
  readonly record: BootRecord;
  readonly changed: boolean;
  readonly reason: BootReason;
}

export const EMPTY_SLOT: SlotRecord = Object.freeze({ state: "empty", size: 0, sha256: new Uint8Array(32), version: "", minVersion: "" });

function withSlot(record: BootRecord, index: SlotIndex, slot: SlotRecord): BootRecord {
  const slots: [SlotRecord, SlotRecord] = [record.slots[0], record.slots[1]];
  slots[index] = slot;
  return { ...record, slots };
}

/**
 * Chooses the slot to boot. `imageOk(slot)` checks the slot's bytes against
 * its record (the bootloader's image verification).
 */
export function decideBoot(record: BootRecord, imageOk: (slot: SlotIndex) => boolean, maxPendingBoots = 1): BootDecision {
  let r = record;
  const active = r.active;
  const slot = r.slots[active];
  const fallBack = (why: BootReason, rec: BootRecord): BootDecision => {
    const other = (1 - active) as SlotIndex;
    const o = rec.slots[other];
    if ((o.state === "valid" || o.state === "pending-verify" || o.state === "new") && imageOk(other)) {
      // the other slot was running before the switch; it is trusted again as it was
      const state: SlotState = o.state === "valid" ? "valid" : "pending-verify";
      const next = withSlot({ ...rec, active: other, attempts: state === "valid" ? 0 : 1 }, other, { ...o, state });
      return { boot: other, record: next, changed: true, reason: why };
    }
    return { boot: undefined, record: rec, changed: rec !== record, reason: "no-bootable-image" };
  };
  switch (slot.state) {
    case "new":
      if (!imageOk(active)) return fallBack("image-invalid", withSlot(r, active, { ...slot, state: "invalid" }));
      r = withSlot({ ...r, attempts: 1 }, active, { ...slot, state: "pending-verify" });
      return { boot: active, record: r, changed: true, reason: "first-boot" };
    case "pending-verify":
      if (r.attempts >= maxPendingBoots) return fallBack("rollback", withSlot({ ...r, attempts: 0 }, active, { ...slot, state: "invalid" }));
      if (!imageOk(active)) return fallBack("image-invalid", withSlot(r, active, { ...slot, state: "invalid" }));
      return { boot: active, record: { ...r, attempts: r.attempts + 1 }, changed: true, reason: "retry-pending" };
    case "valid":
      if (!imageOk(active)) return fallBack("image-invalid", withSlot(r, active, { ...slot, state: "invalid" }));
      return { boot: active, record: r, changed: false, reason: "normal" };
    default:
      return fallBack("rollback", r);
  }
}

/** The record after the updater switched the boot slot to `target` (state `new`). */
export function switchTo(record: BootRecord, target: SlotIndex, image: Omit<SlotRecord, "state">): BootRecord {
  if (target === record.active && record.slots[target].state === "valid") {
    throw new MoteError("bad-state", "cannot overwrite the running valid slot");
  }
  return withSlot({ ...record, active: target, attempts: 0 }, target, { ...image, state: "new" });
}

/** The record after the running app passed its health check. */
export function markValid(record: BootRecord): BootRecord {
  const slot = record.slots[record.active];
  if (slot.state === "valid") return record;
  let floor = record.floor;
  if (slot.minVersion !== "" && (floor === "" || (compareVersions(slot.minVersion, floor) ?? 0) > 0)) floor = slot.minVersion;
  return withSlot({ ...record, attempts: 0, floor }, record.active, { ...slot, state: "valid" });
}

/** The record after the running app gave up on its own image (health check failed). */
export function markInvalid(record: BootRecord): BootRecord {
  return withSlot(record, record.active, { ...record.slots[record.active], state: "invalid" });
}

// --- record codec (simulated otadata; versions at most 32 bytes) -------------

const STATES: readonly SlotState[] = Object.freeze(["empty", "new", "pending-verify", "valid", "invalid"]);
const VERSION_BYTES = 32;
const SLOT_BYTES = 1 + 4 + 32 + VERSION_BYTES * 2;
export const BOOT_RECORD_BYTES = 2 + SLOT_BYTES * 2 + VERSION_BYTES;

function putText(out: Uint8Array, offset: number, text: string): void {
  const bytes = encodeUtf8(text);
  if (bytes.length > VERSION_BYTES) throw new MoteError("too-large", `version "${text}" longer than ${VERSION_BYTES} bytes`);
  out.set(bytes, offset);
}

function getText(bytes: Uint8Array, offset: number): string | undefined {
  let end = offset;
  while (end < offset + VERSION_BYTES && bytes[end] !== 0) end++;
  const s = decodeUtf8(bytes, offset, end);
  return typeof s === "string" ? s : undefined;
}

export function encodeBootRecord(r: BootRecord): Uint8Array {
  const out = new Uint8Array(BOOT_RECORD_BYTES);
  const view = new DataView(out.buffer);
  out[0] = r.active;
  out[1] = Math.min(255, r.attempts);
  for (let i = 0; i < 2; i++) {
    const s = r.slots[i];
    const base = 2 + i * SLOT_BYTES;
    out[base] = STATES.indexOf(s.state);
    view.setUint32(base + 1, s.size);
    out.set(s.sha256.subarray(0, 32), base + 5);
    putText(out, base + 37, s.version);
    putText(out, base + 37 + VERSION_BYTES, s.minVersion);
  }
  putText(out, 2 + 2 * SLOT_BYTES, r.floor);
  return out;
}

export function decodeBootRecord(bytes: Uint8Array): BootRecord | undefined {
  if (bytes.length !== BOOT_RECORD_BYTES || bytes[0] > 1) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const slots: SlotRecord[] = [];
  for (let i = 0; i < 2; i++) {
    const base = 2 + i * SLOT_BYTES;
    const state = STATES[bytes[base]];
    const version = getText(bytes, base + 37);
    const minVersion = getText(bytes, base + 37 + VERSION_BYTES);
    if (state === undefined || version === undefined || minVersion === undefined) return undefined;
    slots.push({ state, size: view.getUint32(base + 1), sha256: bytes.slice(base + 5, base + 37), version, minVersion });
  }
  const floor = getText(bytes, 2 + 2 * SLOT_BYTES);
  if (floor === undefined) return undefined;
  return { active: bytes[0] as SlotIndex, attempts: bytes[1], slots: [slots[0], slots[1]], floor };
}

// --- mods ----------------------------------------------------------------------

export interface ModRecord {
  readonly state: "none" | "installed" | "disabled";
  readonly version: string;
  /** Consecutive boots that loaded the mod without reaching a healthy run. */
  readonly boots: number;
}

export const NO_MOD: ModRecord = Object.freeze({ state: "none", version: "", boots: 0 });

export interface ModDecision {
  readonly load: boolean;
  readonly record: ModRecord;
  /** The mod was just disabled: erase its header so nothing loads it again. */
  readonly disable: boolean;
}

export function decideModLoad(record: ModRecord, headerPresent: boolean, maxModCrashes = 3): ModDecision {
  if (record.state !== "installed" || !headerPresent) return { load: false, record, disable: false };
  if (record.boots >= maxModCrashes) return { load: false, record: { ...record, state: "disabled" }, disable: true };
  return { load: true, record: { ...record, boots: record.boots + 1 }, disable: false };
}

export function modHealthy(record: ModRecord): ModRecord {
  return record.boots === 0 ? record : { ...record, boots: 0 };
}

export function encodeModRecord(r: ModRecord): Uint8Array {
  return encodeUtf8(JSON.stringify({ s: r.state, v: r.version, b: r.boots }));
}

export function decodeModRecord(bytes: Uint8Array): ModRecord | undefined {
  const text = decodeUtf8(bytes);
  if (typeof text !== "string") return undefined;
  try {
    const o = JSON.parse(text) as { s?: unknown; v?: unknown; b?: unknown };
    if ((o.s !== "none" && o.s !== "installed" && o.s !== "disabled") || typeof o.v !== "string" || typeof o.b !== "number") return undefined;
    return { state: o.s, version: o.v, boots: o.b };
  } catch {
    return undefined;
  }
}

// --- health check ---------------------------------------------------------------

export type HealthEvent =
  | { type: "start" }
  | { type: "wifi"; up: boolean }
  | { type: "mqtt"; connected: boolean }
  | { type: "self-test"; ok: boolean; detail?: string }
  | { type: "timer" };

export type HealthAction = { type: "mark-valid" } | { type: "rollback"; reason: "deadline" | "self-test-failed"; detail?: string };

export interface HealthCheckOptions {
  /** Time allowed after boot to reach health. Default 120 s. */
  readonly deadlineMs?: number;
  /** Whether MQTT must connect (false when no broker is configured). Default true. */
  readonly requireMqtt?: boolean;
  /** Whether the app's self-test must report. Default true. */
  readonly requireSelfTest?: boolean;
}

export class HealthCheck {
  readonly #o: HealthCheckOptions;
  #state: "idle" | "checking" | "valid" | "rolled-back" = "idle";
  #deadline: number | undefined;
  #wifi = false;
  #mqtt = false;
  #selfTest = false;

  constructor(options: HealthCheckOptions = {}) {
    this.#o = options;
  }

  get state(): "idle" | "checking" | "valid" | "rolled-back" {
    return this.#state;
  }

  nextDeadline(): number | undefined {
    return this.#state === "checking" ? this.#deadline : undefined;
  }

  handle(event: HealthEvent, now: number): HealthAction[] {
    if (event.type === "start") {
      if (this.#state !== "idle") throw new MoteError("bad-state", "health check already started");
      this.#state = "checking";
      this.#deadline = now + (this.#o.deadlineMs ?? 120_000);
      return this.#evaluate();
    }
    if (this.#state !== "checking") return [];
    switch (event.type) {
      case "wifi":
        this.#wifi = event.up;
        break;
      case "mqtt":
        this.#mqtt = event.connected;
        break;
      case "self-test":
        if (!event.ok) {
          this.#state = "rolled-back";
          return [{ type: "rollback", reason: "self-test-failed", ...(event.detail !== undefined ? { detail: event.detail } : {}) }];
        }
        this.#selfTest = true;
        break;
      case "timer":
        if (now >= this.#deadline!) {
          this.#state = "rolled-back";
          return [{ type: "rollback", reason: "deadline" }];
        }
        return [];
    }
    return this.#evaluate();
  }

  #evaluate(): HealthAction[] {
    const mqttOk = this.#mqtt || this.#o.requireMqtt === false;
    const testOk = this.#selfTest || this.#o.requireSelfTest === false;
    if (this.#wifi && mqttOk && testOk) {
      this.#state = "valid";
      return [{ type: "mark-valid" }];
    }
    return [];
  }
}
