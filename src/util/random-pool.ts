/**
 * Random bytes for nonces and identifiers made at every login and stream: stream IDs (RFC 6120
 * section 4.7.3), SCRAM nonces (RFC 5802 section 5.1), generated resources. Each call of
 * `randomBytes` costs about 5.5 µs on Node 24 whatever its size (16 bytes or 4 KiB alike), so
 * the bytes come from a pool filled a page at a time by the same CSPRNG; each byte is handed
 * out once. Long-lived secrets and salts still call `randomBytes` themselves (docs/performance.md,
 * "What a login costs").
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/** `size` fresh random bytes (at most a pool's worth), in a Buffer of their own. */
export function pooledRandomBytes(size: number): Buffer {
  if (!Number.isInteger(size) || size < 0 || size > POOL_BYTES) throw new RangeError(`pooledRandomBytes takes 0 to ${POOL_BYTES} bytes, not ${size}`);
  if (offset + size > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = Buffer.from(pool.subarray(offset, offset + size));
  // What was handed out is not left in the pool.
  pool.fill(0, offset, offset + size);
  offset += size;
  return bytes;
}
