/**
 * UTF-8 validation for the stream parser (RFC 6120 section 11.6: all XML is UTF-8;
 * RFC 3629 section 3: overlongs, encoded surrogates and values above U+10FFFF are invalid).
 */

import { isUtf8 } from 'node:buffer';

/**
 * Length of the trailing bytes that start a multi-byte character the chunk does not finish.
 * They are held back and prepended to the next chunk, so every slice the scanner sees ends
 * on a character boundary. Invalid tails are not held back; validation reports them.
 */
export function incompleteTailLength(bytes: Uint8Array, end: number): number {
  const earliest = Math.max(0, end - 3);
  for (let index = end - 1; index >= earliest; index--) {
    const byte = bytes[index];
    if (byte < 0x80) return 0;
    if (byte >= 0xc0) {
      if (byte < 0xc2 || byte > 0xf4) return 0;
      const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return end - index < needed ? end - index : 0;
    }
  }
  return 0;
}

/** Offset of the first byte that is not part of valid UTF-8, or -1 when all of [0, end) is valid. */
export function firstInvalidUtf8(bytes: Uint8Array, end: number): number {
  if (isUtf8(end === bytes.length ? bytes : bytes.subarray(0, end))) return -1;
  let index = 0;
  while (index < end) {
    const lead = bytes[index];
    if (lead < 0x80) {
      index++;
      continue;
    }
    let needed: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) needed = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      needed = 2;
      if (lead === 0xe0) low = 0xa0; // overlong
      else if (lead === 0xed) high = 0x9f; // UTF-16 surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      needed = 3;
      if (lead === 0xf0) low = 0x90; // overlong
      else if (lead === 0xf4) high = 0x8f; // above U+10FFFF
    } else return index;
    if (index + needed >= end) return index; // truncated sequence
    const second = bytes[index + 1];
    if (second < low || second > high) return index;
    for (let k = 2; k <= needed; k++) if ((bytes[index + k] & 0xc0) !== 0x80) return index;
    index += needed + 1;
  }
  return -1;
}
