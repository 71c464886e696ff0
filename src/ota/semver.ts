/**
 * Semantic Versioning 2.0.0 (https://semver.org): parse and compare.
 * Build metadata is accepted and ignored for precedence (§10); pre-release
 * identifiers order below the release (§11.3) and compare field by field
 * (§11.4). Bounded: at most 64 characters and numeric parts below 2^53.
 */

export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly prerelease: readonly string[];
  readonly build: readonly string[];
}

export const MAX_VERSION_LENGTH = 64;

const NUMERIC = (): RegExp => /^(0|[1-9][0-9]*)$/; // made per call: a RegExp must not be preloaded (docs/moddable.md)
const IDENT = (): RegExp => /^[0-9A-Za-z-]+$/; // made per call: a RegExp must not be preloaded (docs/moddable.md)

/** Parses `text` (no leading "v"), or returns undefined. */
export function parseSemVer(text: string): SemVer | undefined {
  if (typeof text !== "string" || text.length === 0 || text.length > MAX_VERSION_LENGTH) return undefined;
  let rest = text;
  let build: string[] = [];
  const plus = rest.indexOf("+");
  if (plus >= 0) {
    build = rest.slice(plus + 1).split(".");
    rest = rest.slice(0, plus);
    if (!build.every((b) => IDENT().test(b))) return undefined; // §10
  }
  let prerelease: string[] = [];
  const dash = rest.indexOf("-");
  if (dash >= 0) {
    prerelease = rest.slice(dash + 1).split(".");
    rest = rest.slice(0, dash);
    // §9: non-empty identifiers, numeric ones without leading zeros
    if (!prerelease.every((p) => IDENT().test(p) && (!/^[0-9]+$/.test(p) || NUMERIC().test(p)))) return undefined;
  }
  const core = rest.split(".");
  if (core.length !== 3 || !core.every((c) => NUMERIC().test(c))) return undefined; // §2
  const [major, minor, patch] = core.map(Number);
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  return { major, minor, patch, prerelease, build };
}

/** -1, 0 or 1 by semver precedence (§11). */
export function compareSemVer(a: SemVer, b: SemVer): number {
  for (const k of ["major", "minor", "patch"] as const) {
    if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  }
  const pa = a.prerelease;
  const pb = b.prerelease;
  if (pa.length === 0 || pb.length === 0) {
    if (pa.length === pb.length) return 0;
    return pa.length === 0 ? 1 : -1; // §11.3 a release outranks its pre-releases
  }
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    const na = /^[0-9]+$/.test(pa[i]);
    const nb = /^[0-9]+$/.test(pb[i]);
    if (na && nb) return Number(pa[i]) < Number(pb[i]) ? -1 : 1; // §11.4.1
    if (na !== nb) return na ? -1 : 1; // §11.4.3
    return pa[i] < pb[i] ? -1 : 1; // §11.4.2 ASCII order
  }
  return pa.length === pb.length ? 0 : pa.length < pb.length ? -1 : 1; // §11.4.4
}

/** Compares two version strings; throws nothing, undefined if either is invalid. */
export function compareVersions(a: string, b: string): number | undefined {
  const pa = parseSemVer(a);
  const pb = parseSemVer(b);
  if (pa === undefined || pb === undefined) return undefined;
  return compareSemVer(pa, pb);
}
