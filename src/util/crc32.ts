/**
 * CRC-32 (IEEE 802.3 / zlib: reflected, polynomial 0xEDB88320), over
 * `data[start, end)`. Bitwise rather than table-driven: the table would be
 * 1 KB of RAM on the device, and the callers (the MQTT session store and the
 * OTA boot journal) checksum a few hundred bytes at a time.
 */
export function crc32(data: Uint8Array, start = 0, end = data.length): number {
  // Kept in int32 all the way (the polynomial as the int32 -306674912 = 0xEDB88320,
  // `c >>> 1` < 2^31): XS then never leaves its integer path; with 0xedb88320 and
  // 0xffffffff as doubles every step was a floating-point operation on the device.
  let c = -1;
  for (let i = start; i < end; i++) {
    c ^= data[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ -306674912 : c >>> 1;
  }
  return ~c >>> 0;
}
