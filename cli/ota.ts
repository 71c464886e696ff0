/**
 * `mote ota keygen|pack|verify|serve|deploy` — host tools for signed updates
 * (docs/ota.md). Each subcommand returns an exit status: 0 on success,
 * 1 when the thing checked or attempted failed (one line naming the error
 * code on stderr, `mote: <code>: <words>`), 2 for a usage error (`mote: usage: ...`;
 * `mote ota help` prints the full usage).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { OtaError } from "../src/ota/errors.js";
import { TrustError } from "../src/ota/signed.js";
import { descriptorDigest, descriptorSignatureValid, encodeDescriptor, parseDescriptor } from "../src/ota/descriptor.js";
import { bytesEqual } from "../src/ota/encoding.js";
import { parsePublicKey } from "../src/ota/keys.js";
import { parseSemVer } from "../src/ota/semver.js";
import { describeImage, generateSigningKey, loadPrivateKey, nodeOtaCrypto, sha256Of, signDescriptor } from "./ota-sign.js";
import { startOtaServer } from "./ota-serve.js";
import { oneFlag as one, UsageError } from "./args.js";
import { errorLine } from "./tasks/types.js";
import { parseArgs, type OtaArgs, type OtaCliIO } from "./ota-args.js";

// The parser and types live in cli/ota-args.ts (shared with ota-deploy.ts); re-exported for callers of this module.
export { parseArgs, type OtaArgs, type OtaCliIO };

const defaultIO: OtaCliIO = {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
};

const USAGE = `usage:
  mote ota keygen --out NAME                      writes NAME.key (private) and NAME.pub (public), PEM
  mote ota pack --image FILE --version V --board B --key NAME.key [--min-version V]
                [--kind firmware|mod] [--url URL]... [--created T] --out DIR
  mote ota verify DESCRIPTOR.json --key NAME.pub [--image FILE]
  mote ota serve DIR [--port P] [--host H] [--ignore-range] [--drop-after N]
  mote ota deploy --broker URL[,URL] (--all | --device ID | --devices FILE) [--canary N|P%] [--wave N|P%]
                [--max-failures N|P%] [--timeout S] [--discover MS] [--state FILE] [--json] [--prefix P] DESCRIPTOR.json
  mote ota deploy --broker URL --resume STATE.json      a halted rollout goes on (docs/ota.md, "Staged rollout")
  mote ota rotate --key OLD.key --new-pub NEW.pub --counter N [--device ID] [--out FILE]
                                                  a key rotation for <prefix>/<id>/cmd/signed
  mote ota sign-config --key NAME.key --counter N [--device ID] (--set KEY=VALUE | --unset KEY)...
                [--reboot] [--out FILE]          protected configuration for cmd/signed (docs/security.md)`;


function allowOnly(p: OtaArgs, names: string[], positionals: number): void {
  for (const k of p.flags.keys()) if (!names.includes(k)) throw new UsageError(`unknown option --${k}`);
  if (p.positional.length !== positionals) throw new UsageError(`expected ${positionals} argument(s)`);
}

function fail(io: OtaCliIO, code: string, message?: string): number {
  io.err(errorLine({ code, message: message ?? "" }));
  return 1;
}

export function keygen(p: OtaArgs, io: OtaCliIO): number {
  allowOnly(p, ["out", "force"], 0);
  const out = one(p, "out", true);
  const keyFile = `${out}.key`;
  const pubFile = `${out}.pub`;
  if (!p.flags.has("force") && (existsSync(keyFile) || existsSync(pubFile))) {
    return fail(io, "exists", `${keyFile} or ${pubFile} exists (use --force to replace)`);
  }
  const { privatePem, publicPem } = generateSigningKey();
  mkdirSync(dirname(keyFile), { recursive: true });
  writeFileSync(keyFile, privatePem, { mode: 0o600 });
  writeFileSync(pubFile, publicPem);
  io.out(`wrote ${keyFile} (keep private) and ${pubFile} (device configuration)`);
  return 0;
}

export function pack(p: OtaArgs, io: OtaCliIO): number {
  allowOnly(p, ["image", "version", "board", "key", "min-version", "kind", "url", "created", "out"], 0);
  const imagePath = one(p, "image", true);
  const version = one(p, "version", true);
  const board = one(p, "board", true);
  const keyPath = one(p, "key", true);
  const outDir = one(p, "out", true);
  const minVersion = one(p, "min-version");
  const kind = one(p, "kind") ?? "firmware";
  if (kind !== "firmware" && kind !== "mod") throw new UsageError("--kind must be firmware or mod");
  if (parseSemVer(version) === undefined) throw new UsageError(`--version ${version} is not semver`);
  if (minVersion !== undefined && parseSemVer(minVersion) === undefined) throw new UsageError(`--min-version is not semver`);
  const image = new Uint8Array(readFileSync(imagePath));
  const key = loadPrivateKey(readFileSync(keyPath, "utf8"));
  const base = `${basename(imagePath, extname(imagePath))}-${version}`;
  const imageName = `${base}${extname(imagePath) || ".bin"}`;
  const urls = (p.flags.get("url") ?? []).map((u) => (u.endsWith("/") ? u + imageName : u));
  const unsigned = describeImage(image, { version, board, kind, minVersion, urls, created: one(p, "created") });
  let descriptor;
  try {
    descriptor = signDescriptor(unsigned, key);
  } catch (e) {
    if (e instanceof OtaError) return fail(io, e.code, e.message);
    throw e;
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, imageName), image);
  writeFileSync(join(outDir, `${base}.json`), encodeDescriptor(descriptor) + "\n");
  io.out(`wrote ${join(outDir, imageName)} (${image.length} bytes) and ${join(outDir, `${base}.json`)}`);
  return 0;
}


/** Image beside a descriptor: same base name, any extension other than .json. */
function imageBeside(descriptorPath: string): string | undefined {
  const base = descriptorPath.slice(0, descriptorPath.length - extname(descriptorPath).length);
  for (const ext of [".bin", ".xsa", ".js", ""]) if (existsSync(base + ext) && base + ext !== descriptorPath) return base + ext;
  return undefined;
}

export function verify(p: OtaArgs, io: OtaCliIO): number {
  allowOnly(p, ["key", "image"], 1);
  const descriptorPath = p.positional[0];
  let publicKey: Uint8Array;
  try {
    publicKey = parsePublicKey(readFileSync(one(p, "key", true), "utf8"));
  } catch (e) {
    if (e instanceof OtaError) return fail(io, e.code, e.message);
    throw e;
  }
  try {
    const d = parseDescriptor(new Uint8Array(readFileSync(descriptorPath)));
    if (!descriptorSignatureValid(d, publicKey, nodeOtaCrypto)) return fail(io, "bad-signature");
    const imagePath = one(p, "image") ?? imageBeside(descriptorPath);
    if (imagePath === undefined) return fail(io, "no-image", `no image beside ${descriptorPath}`);
    const image = new Uint8Array(readFileSync(imagePath));
    if (image.length !== d.size) return fail(io, "size-mismatch", `${image.length} bytes, descriptor says ${d.size}`);
    if (!bytesEqual(sha256Of(image), descriptorDigest(d))) return fail(io, "hash-mismatch");
    io.out(`ok: ${d.kind} ${d.version} for ${d.board}, ${d.size} bytes, signature, size and sha256 verified`);
    return 0;
  } catch (e) {
    if (e instanceof OtaError) return fail(io, e.code, e.message);
    throw e;
  }
}

async function serve(p: OtaArgs, io: OtaCliIO, signal?: AbortSignal): Promise<number> {
  allowOnly(p, ["port", "host", "ignore-range", "drop-after"], 1);
  const port = Number(one(p, "port") ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError("--port");
  const drop = one(p, "drop-after");
  const server = await startOtaServer({
    dir: p.positional[0],
    port,
    host: one(p, "host") ?? "127.0.0.1",
    faults: { ignoreRange: p.flags.has("ignore-range"), ...(drop !== undefined ? { dropAfterBytes: Number(drop), dropTimes: 1 } : {}) },
  });
  io.out(`serving ${p.positional[0]} on ${server.url}`);
  await new Promise<void>((done) => {
    const stop = () => done();
    if (signal) signal.addEventListener("abort", stop, { once: true });
    else {
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    }
  });
  await server.close();
  return 0;
}

export async function main(argv: string[], io: OtaCliIO = defaultIO, signal?: AbortSignal): Promise<number> {
  const args = argv[0] === "ota" ? argv.slice(1) : argv;
  const [command, ...rest] = args;
  try {
    const p = parseArgs(rest);
    switch (command) {
      case "keygen":
        return keygen(p, io);
      case "pack":
        return pack(p, io);
      case "verify":
        return verify(p, io);
      case "serve":
        return await serve(p, io, signal);
      case "rotate":
        return (await import("./ota-signed.js")).rotate(p, io);
      case "sign-config":
        return (await import("./ota-signed.js")).signConfig(p, io);
      case "deploy": {
        const { deploy } = await import("./ota-deploy.js");
        return await deploy(p, io, signal);
      }
      case undefined:
        io.err(USAGE);
        return 2;
      case "help":
      case "--help":
        io.out(USAGE);
        return 0;
      default:
        throw new UsageError(`unknown subcommand "${command}" (mote ota help lists them)`);
    }
  } catch (e) {
    // The same UsageError (MoteError code "usage") as every other CLI parser: one line, status 2.
    if (e instanceof UsageError) {
      io.err(errorLine(e));
      return 2;
    }
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") return fail(io, "not-found", err.path ?? err.message);
    if (err.message?.startsWith("bad-key")) return fail(io, "bad-key", err.message);
    if (e instanceof OtaError || e instanceof TrustError) return fail(io, e.code, e.message);
    throw e;
  }
}

