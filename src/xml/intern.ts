/**
 * Reuses the strings of recently seen short ASCII tokens. XMPP streams repeat a small set of
 * element and attribute names and many attribute values (types, JIDs), and decoding each
 * occurrence through Buffer#toString was the largest single cost in the parser benchmark
 * (bench/parser.ts): interning names raised throughput by about a third, values by a bit more.
 */

const SLOTS = 1024;
const MAX_LENGTH = 32;
const cache: string[] = new Array<string>(SLOTS).fill('');

/** The string for bytes[start, end), from the cache when the same bytes were seen recently. */
export function internAscii(bytes: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length > MAX_LENGTH) return Buffer.prototype.toString.call(bytes, 'utf8', start, end);
  let hash = length;
  for (let k = start; k < end; k++) {
    const byte = bytes[k];
    if (byte >= 0x80) return Buffer.prototype.toString.call(bytes, 'utf8', start, end);
    hash = (Math.imul(hash, 31) + byte) | 0;
  }
  const slot = (hash ^ (hash >>> 10)) & (SLOTS - 1);
  const cached = cache[slot];
  if (cached.length === length) {
    let same = true;
    for (let k = 0; k < length; k++) {
      if (cached.charCodeAt(k) !== bytes[start + k]) {
        same = false;
        break;
      }
    }
    if (same) return cached;
  }
  const decoded = Buffer.prototype.toString.call(bytes, 'latin1', start, end);
  cache[slot] = decoded;
  return decoded;
}
