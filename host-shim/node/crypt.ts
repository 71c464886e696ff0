/**
 * Node twin of Moddable's `crypt` module (the `Digest` class only), over
 * node:crypto. Same shape: `new Digest("SHA256")`, `write(string | buffer)`,
 * `close()` -> ArrayBuffer, `reset()`.
 */
import { createHash, type Hash } from "node:crypto";

const ALGORITHMS: Record<string, string> = {
  MD5: "md5",
  SHA1: "sha1",
  SHA224: "sha224",
  SHA256: "sha256",
  SHA384: "sha384",
  SHA512: "sha512",
};

export class Digest {
  #algorithm: string;
  #hash: Hash | undefined;
  constructor(type: string) {
    const algorithm = ALGORITHMS[type];
    if (algorithm === undefined) throw new Error(`unsupported digest ${type}`);
    this.#algorithm = algorithm;
    this.#hash = createHash(algorithm);
  }
  write(message: string | ArrayBuffer | ArrayBufferView): void {
    if (this.#hash === undefined) throw new Error("digest closed");
    if (typeof message === "string") this.#hash.update(message, "utf8");
    else if (message instanceof ArrayBuffer) this.#hash.update(new Uint8Array(message));
    else this.#hash.update(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
  }
  close(): ArrayBuffer {
    if (this.#hash === undefined) throw new Error("digest closed");
    const out = this.#hash.digest();
    this.#hash = undefined;
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
  }
  reset(): void {
    this.#hash = createHash(this.#algorithm);
  }
}

export default { Digest };
