/**
 * `mote ota rotate` and `mote ota sign-config`: signed messages for a device's
 * `cmd/signed` topic (src/ota/signed.ts, docs/security.md), signed with a
 * `mote ota keygen` key file exactly as descriptors are (canonical JSON,
 * ECDSA P-256 / SHA-256, r||s). The device refuses them unless they verify
 * under the OTA key it trusts now and carry a counter above the last one it
 * accepted.
 *
 *   mote ota rotate --key old.key --new-pub new.pub --counter N [--device ID] [--out FILE]
 *   mote ota sign-config --key fleet.key --counter N [--device ID] --set broker=mqtts://… [--unset mqttUser] [--reboot] [--out FILE]
 */
import { sign, type KeyObject } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { canonicalJsonBytes } from "../src/ota/descriptor.js";
import { encodeBase64, encodeHex } from "../src/ota/encoding.js";
import { parsePublicKey } from "../src/ota/keys.js";
import { MAX_COUNTER, parseSignedMessage, signedMessageValid, TrustError } from "../src/ota/signed.js";
import { encodeUtf8 } from "../src/util/utf8.js";
import { oneFlag as one, UsageError } from "./args.js";
import { loadPrivateKey, nodeOtaCrypto, rawPublicKey } from "./ota-sign.js";

export interface SignedCliArgs {
  positional: string[];
  flags: Map<string, string[]>;
}

interface IO {
  out(line: string): void;
  err(line: string): void;
}

/**
 * Signs `unsigned` (no `signature` member) with `key`; returns the message as
 * JSON text, members sorted (for these value types that is the canonical form).
 */
export function signMessage(unsigned: Record<string, unknown>, key: KeyObject): string {
  const sig = sign("sha256", canonicalJsonBytes(unsigned), { key, dsaEncoding: "ieee-p1363" });
  const text = JSON.stringify(sortMembers({ ...unsigned, signature: encodeBase64(new Uint8Array(sig)) }));
  // The device's own decoder and verifier judge it before it leaves the host.
  const parsed = parseSignedMessage(encodeUtf8(text));
  if (parsed instanceof TrustError) throw parsed;
  if (!signedMessageValid(parsed, rawPublicKey(key), nodeOtaCrypto)) throw new TrustError("bad-signature", "the message does not verify");
  return text;
}

function sortMembers(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) {
    const v = o[k];
    out[k] = typeof v === "object" && v !== null && !Array.isArray(v) ? sortMembers(v as Record<string, unknown>) : v;
  }
  return out;
}

function allowOnly(p: SignedCliArgs, names: string[]): void {
  for (const k of p.flags.keys()) if (!names.includes(k)) throw new UsageError(`unknown option --${k}`);
  if (p.positional.length !== 0) throw new UsageError("expected no argument");
}

function counterOf(p: SignedCliArgs): number {
  const text = one(p, "counter", true)!;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isInteger(n) || n < 1 || n > MAX_COUNTER)
    throw new UsageError(`--counter must be an integer 1..${MAX_COUNTER} (above the device's last one)`);
  return n;
}

function common(p: SignedCliArgs): { key: KeyObject; unsigned: Record<string, unknown> } {
  const counter = counterOf(p);
  const key = loadPrivateKey(readFileSync(one(p, "key", true)!, "utf8"));
  const device = one(p, "device", false);
  const unsigned: Record<string, unknown> = { format: 1, counter };
  if (device !== undefined) unsigned.device = device;
  return { key, unsigned };
}

function emit(p: SignedCliArgs, io: IO, text: string, what: string): number {
  const out = one(p, "out", false);
  if (out === undefined) io.out(text);
  else {
    writeFileSync(out, text + "\n");
    io.out(`wrote ${out} (${what}): publish it on <prefix>/<id>/cmd/signed`);
  }
  return 0;
}

export function rotate(p: SignedCliArgs, io: IO): number {
  allowOnly(p, ["key", "new-pub", "counter", "device", "out"]);
  const { key, unsigned } = common(p);
  const newKey = parsePublicKey(readFileSync(one(p, "new-pub", true)!, "utf8"));
  unsigned.type = "rotate-key";
  unsigned.otaKey = encodeHex(newKey);
  return emit(p, io, signMessage(unsigned, key), `rotate-key, counter ${unsigned.counter as number}`);
}

export function signConfig(p: SignedCliArgs, io: IO): number {
  allowOnly(p, ["key", "counter", "device", "out", "set", "unset", "reboot"]);
  const { key, unsigned } = common(p);
  const config: Record<string, string | null> = {};
  for (const pair of p.flags.get("set") ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--set takes KEY=VALUE, not "${pair}"`);
    config[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  for (const k of p.flags.get("unset") ?? []) config[k] = null;
  if (Object.keys(config).length === 0) throw new UsageError("give at least one --set KEY=VALUE or --unset KEY");
  unsigned.type = "config";
  unsigned.config = config;
  if (p.flags.has("reboot")) unsigned.reboot = true;
  return emit(p, io, signMessage(unsigned, key), `config ${Object.keys(config).join(", ")}, counter ${unsigned.counter as number}`);
}
