/**
 * The `coap://` side of the agent's Fetcher seam: an image downloaded with
 * Block2 (RFC 7959 §2.4) through the CoAP client (src/coap/client.ts).
 *
 * The client streams blocks in order and holds one block at a time. A resume
 * asks for the block holding byte `from` (download `offset`, a block
 * boundary; RFC 7959 §2.4 lets a client request any block), drops the bytes
 * before `from` and reports the rest like an HTTP 206 from `from` to the
 * descriptor's size. A server that cannot start mid-resource (it answers
 * another block: the client reports `block-mismatch`) is remembered, and
 * later attempts start at block 0 reported like a server that ignored Range
 * (200): the updater discards what it already has, so the image is never
 * appended at a wrong offset. (libcoap is not such a server: it resumes, with
 * the same client or a new one.)
 * Each block is handed to the updater in pieces no larger than its `room()`.
 * Response codes map to the HTTP-like `class*100 + detail`
 * (2.05 -> 205 is reported as 200; 4.04 -> 404; 5.03 -> 503) so the updater's
 * status rules apply unchanged.
 */
import type { Fetcher, FetchFailure } from "./agent.js";

/** The part of CoapClient the fetcher uses. */
export interface CoapDownloader {
  download(
    url: string,
    onBlock: (data: Uint8Array, offset: number, more: boolean) => void,
    opts?: { blockSize?: number; timeoutMs?: number; offset?: number },
  ): Promise<{ code: number; ok: boolean }>;
}

/** URLs whose server could not start a Block2 transfer mid-resource (bounded, oldest dropped). */
const MAX_REMEMBERED = 8;

export function coapFetcher(client: CoapDownloader, options: { blockSize?: number; timeoutMs?: number } = {}): Fetcher {
  const blockSize = options.blockSize ?? 1024;
  const noOffset: string[] = [];
  return (url, from, sink, size) => {
    let live = true;
    let started = false;
    const resume = from > 0 && size !== undefined && from < size && !noOffset.includes(url);
    const offset = resume ? from - (from % blockSize) : 0;
    let drop = resume ? from - offset : 0;
    const begin = () => {
      if (started) return;
      started = true;
      if (resume) sink.response(206, size! - from, { start: from, end: size! - 1, total: size });
      else sink.response(200, undefined, undefined);
    };
    let single: Uint8Array | undefined;
    const deliver = (data: Uint8Array) => {
      begin();
      let rest = data;
      if (drop > 0) {
        const n = Math.min(drop, rest.length);
        drop -= n;
        rest = rest.subarray(n);
      }
      for (let guard = 0; rest.length > 0 && live && guard < 4096; guard++) {
        const n = Math.min(rest.length, sink.room());
        if (n <= 0) return; // the updater has finished or failed: drop the rest
        sink.body(rest.subarray(0, n));
        rest = rest.subarray(n);
      }
    };
    let transfer: Promise<{ code: number; ok: boolean }>;
    try {
      transfer = client.download(
        url,
        (data, at, more) => {
          if (!live) return;
          // A one-block answer may be an error's diagnostic payload: hold it (one
          // block, ≤ 1024 bytes) until the response code is known.
          if (at === 0 && !more && !resume) {
            single = data.slice();
            return;
          }
          deliver(data);
        },
        resume ? { ...options, offset } : options,
      );
    } catch (e) {
      transfer = Promise.reject(e); // a bad URL: reported on a later turn, like any failure
    }
    transfer.then(
      (response) => {
        if (!live) return;
        if (response.ok) {
          if (single !== undefined) deliver(single);
          single = undefined;
          if (!live) return;
          live = false;
          begin();
          sink.end();
          return;
        }
        live = false;
        if (started) sink.fail("bad-response", `CoAP ${response.code >> 5}.${String(response.code & 31).padStart(2, "0")} after a body`);
        else sink.response((response.code >> 5) * 100 + (response.code & 31), undefined, undefined);
      },
      (error: { code?: string; message?: string }) => {
        if (!live) return;
        live = false;
        if (resume && error.code === "block-mismatch") {
          if (noOffset.length >= MAX_REMEMBERED) noOffset.shift();
          noOffset.push(url);
          sink.fail("bad-response", "server cannot start mid-resource; next attempt starts at block 0");
          return;
        }
        const kind: FetchFailure = error.code === "timeout" ? "timeout" : "network";
        sink.fail(kind, error.message);
      },
    );
    return {
      close() {
        live = false; // the client has no abort: later blocks are ignored
      },
    };
  };
}
