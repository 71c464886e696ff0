/**
 * Block-wise transfers on the client side (RFC 7959), as steps on one
 * `ClientExchange`; endpoint.ts sends and finishes as each step says.
 * - `nextRequest`: the request for the exchange's current step: the next
 *   Block1 block of an upload (Size1 on the first, §4), or a request for the
 *   next Block2 block in the size the server chose (§2.4), or early Block2
 *   size negotiation on the first request.
 * - `acceptBlock1`: the answer to a Block1 block: go on after 2.31 Continue in
 *   the server's block size (§2.5 late negotiation), or start over smaller
 *   after 4.13 (§2.9.3).
 * - `acceptBlock2`: a Block2 response must be the block asked for, with the
 *   ETag of the first (§2.4); it is streamed (`block` action) or assembled up
 *   to `maxBodyBytes`.
 */
import { Option, ResponseCode, blockSize, codeClass, encodeBlock, encodeUint, findOption, optionBlock, withoutOption, type CoapMessage, type CoapOption } from "./codec.js";
import type { ClientExchange, EndpointAction, ExchangeFailure, UploadSource } from "./endpoint-types.js";
import { sameBytes } from "./message-layer.js";
import { BLOCK, BLOCK_MISMATCH, CANCELLING, DONE, LAST, NEXT, TOO_LARGE, WHOLE } from "./names.js";

const EMPTY = new Uint8Array(0);

/** The SZX (RFC 7959 §2.2) of the largest block size not over `size`. */
export function szxFor(size: number): number {
  let szx = 6;
  while (szx > 0 && blockSize(szx) > size) szx--;
  return szx;
}

/** An in-memory body as an upload source. */
export function bytesSource(data: Uint8Array): UploadSource {
  return {
    size: data.length,
    read(offset: number, length: number): Uint8Array {
      return data.subarray(offset, Math.min(offset + length, data.length));
    },
  };
}

export function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(length);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Options and payload of the exchange's next request (everything but type, id and token). */
export function nextRequest(ex: ClientExchange): { options: CoapOption[]; payload: Uint8Array } {
  const spec = ex.spec;
  let options = spec.options ? spec.options.slice() : [];
  let payload: Uint8Array = EMPTY;
  if (ex.state === CANCELLING) options.push({ number: Option.Observe, value: encodeUint(1) });
  else if (spec.observe) options.push({ number: Option.Observe, value: EMPTY });
  if (ex.upload !== undefined) {
    // RFC 7959 §2.5: one Block1 block per request; Size1 announces the total (§4).
    const size = blockSize(ex.b1Szx);
    const chunk = ex.upload.read(ex.b1Offset, size);
    const more = ex.b1Offset + chunk.length < ex.upload.size && chunk.length === size;
    options.push({ number: Option.Block1, value: encodeBlock({ num: ex.b1Offset / size, more, szx: ex.b1Szx }) });
    if (ex.b1Offset === 0) options.push({ number: Option.Size1, value: encodeUint(ex.upload.size) });
    payload = chunk;
    ex.b1Sent = chunk.length;
  } else if (spec.payload instanceof Uint8Array && ex.b2Offset === 0) payload = spec.payload;
  // RFC 7959 §3.3: requests for the later blocks of a response carry no payload.
  if (ex.b2Offset > 0 && ex.b2Szx !== undefined) {
    // RFC 7959 §2.4: ask for the next block in the size the server chose (a later
    // block of an observed body is asked for without Observe, §2.6; a plain download
    // has none to drop, and is spared the copy of its options for every block).
    if (spec.observe || ex.state === CANCELLING) options = withoutOption(options, Option.Observe);
    options.push({ number: Option.Block2, value: encodeBlock({ num: ex.b2Offset / blockSize(ex.b2Szx), more: false, szx: ex.b2Szx }) });
  } else if (spec.blockSize !== undefined && ex.upload === undefined && ex.state !== CANCELLING) {
    // Early negotiation (RFC 7959 §2.4): ask for blocks of at most this size.
    options.push({ number: Option.Block2, value: encodeBlock({ num: 0, more: false, szx: szxFor(spec.blockSize) }) });
  }
  return { options, payload };
}

/**
 * The answer to an upload's block: "next" (send the next block, the exchange
 * advanced), "block-mismatch", or "done" (the final response: the upload is over,
 * its body may continue with Block2, §3.3).
 */
export function acceptBlock1(ex: ClientExchange, m: CoapMessage): typeof NEXT | typeof DONE | typeof BLOCK_MISMATCH {
  const b1 = optionBlock(m, Option.Block1);
  if (m.code === ResponseCode.Continue && b1 !== undefined) {
    const size = blockSize(Math.min(b1.szx, ex.b1Szx));
    const next = (b1.num + 1) * blockSize(b1.szx);
    if (next <= ex.b1Offset || next > ex.b1Offset + ex.b1Sent || next % size !== 0) return BLOCK_MISMATCH;
    ex.b1Szx = Math.min(b1.szx, ex.b1Szx); // §2.5 late negotiation
    ex.b1Offset = next;
    return NEXT;
  }
  if (m.code === ResponseCode.RequestEntityTooLarge && b1 !== undefined && b1.szx < ex.b1Szx) {
    // §2.9.3: the server wants smaller blocks: start over in its size.
    ex.b1Szx = b1.szx;
    ex.b1Offset = 0;
    return NEXT;
  }
  ex.upload = undefined;
  return DONE;
}

/**
 * A response to a request that may be block-wise: "whole" (no Block2 and no
 * transfer under way: the message is the whole answer), "next" (a block taken;
 * ask for the next), "last" (the final block taken; for an assembled body the
 * blocks are in `ex.b2Chunks`), or why it failed.
 */
export function acceptBlock2(ex: ClientExchange, m: CoapMessage, maxBodyBytes: number, out: EndpointAction[]): typeof WHOLE | typeof NEXT | typeof LAST | ExchangeFailure {
  const b2 = optionBlock(m, Option.Block2);
  if (b2 === undefined || codeClass(m.code) !== 2) {
    // Without blocks mid-transfer, the server broke the sequence.
    return ex.b2Offset > 0 ? BLOCK_MISMATCH : WHOLE;
  }
  // RFC 7959 §2.4: a Block2 response; it must be the block we asked for.
  const size = blockSize(b2.szx);
  if (b2.num * size !== ex.b2Offset) return BLOCK_MISMATCH;
  // §2.4: the blocks of one body carry the same ETag (or none). The first block
  // this exchange receives sets the reference — block 0, or the block a
  // resumed download starts at (`offset`): there is nothing to compare it to.
  // (libcoap answers a mid-resource request with ETag and Size2 when it still
  // holds the body for this client from an earlier transfer, without them
  // when it does not; both are one consistent body.)
  const etag = findOption(m, Option.ETag)?.value;
  if (!ex.b2Started) {
    ex.b2Started = true;
    ex.etag = etag;
  } else if ((ex.etag === undefined) !== (etag === undefined) || (etag !== undefined && !sameBytes(etag, ex.etag!))) {
    return BLOCK_MISMATCH;
  }
  if (b2.more && m.payload.length !== size) return BLOCK_MISMATCH;
  if (ex.spec.stream) {
    out.push({ type: BLOCK, id: ex.id, offset: ex.b2Offset, data: m.payload, more: b2.more, response: m });
  } else {
    if (ex.b2Length + m.payload.length > maxBodyBytes) return TOO_LARGE;
    ex.b2Chunks.push(m.payload);
    ex.b2Length += m.payload.length;
  }
  if (!b2.more) return LAST;
  ex.b2Offset += m.payload.length;
  ex.b2Szx = b2.szx;
  return NEXT;
}
