/**
 * Findings already reported (see docs/reliability.md "Findings" and the
 * `test.fails` repros in test/fuzz/campaign.test.ts). A run counts inputs
 * that hit one under `known:<id>` instead of stopping on them, so a long run
 * still measures everything else; `--strict` (or `known: []`) turns this off.
 * Remove an entry when its fix lands: the campaign's repro then tells you.
 */
import type { Finding } from "./engine.js";

export interface KnownFinding {
  readonly id: string;
  readonly target: string;
  readonly summary: string;
  matches(f: Pick<Finding, "kind" | "message" | "input">): boolean;
}

/** Empty: F1, F2 (and F3, F4 outside the fuzz loop's reach) were fixed during the campaign. */
export const KNOWN: readonly KnownFinding[] = Object.freeze([]);
