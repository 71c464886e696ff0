/**
 * SHA-256 through Moddable's `crypt` Digest (native on the device; the Node
 * twin host-shim/node/crypt.ts wraps node:crypto with the same shape).
 */
import { Digest } from "crypt";

export interface Sha256Hasher {
  write(data: Uint8Array): void;
  /** The 32-byte digest; the hasher cannot be used afterwards. */
  close(): Uint8Array;
}

export function createSha256(): Sha256Hasher {
  const digest = new Digest("SHA256");
  return {
    write(data: Uint8Array): void {
      // Moddable reads any buffer view (xsmcGetBufferReadable); a view is passed, never copied.
      digest.write(data);
    },
    close(): Uint8Array {
      return new Uint8Array(digest.close());
    },
  };
}
