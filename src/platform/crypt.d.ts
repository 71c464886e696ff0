/**
 * Moddable `crypt` module — the part mote uses (documentation/crypt/crypt.md).
 * `@moddable/typings` has no declaration for it.
 */
declare module "crypt" {
  export class Digest {
    constructor(type: "MD5" | "SHA1" | "SHA224" | "SHA256" | "SHA384" | "SHA512");
    /** Adds a message to the hash; may be called repeatedly. */
    write(message: string | ArrayBuffer | ArrayBufferView): void;
    /** Returns the hash and frees the digest; call once. */
    close(): ArrayBuffer;
    reset(): void;
  }
}
