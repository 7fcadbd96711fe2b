/**
 * The signature of an upload slot's PUT URL (XEP-0363 section 4 leaves how the server knows the
 * slot to it): an HMAC-SHA256 over the path, the size, the content type, the slot's expiry and
 * its holder, under a secret only the server knows. Whoever was handed the URL may PUT exactly
 * that file, of that size and type, before that time; a changed byte anywhere is refused.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SlotTerms {
  /** the URL path, as the client sends it (percent-encoded) */
  path: string;
  size: number;
  /** the content type the client declared, '' when none */
  type: string;
  /** seconds since the epoch after which the PUT URL is refused */
  expires: number;
  /** the bare JID the slot was given to */
  owner: string;
}

export function signSlot(secret: Buffer, terms: SlotTerms): string {
  return createHmac('sha256', secret).update(canonical(terms)).digest('base64url');
}

/** Whether `signature` was made by signSlot for these terms (compared in constant time). */
export function slotSignatureValid(secret: Buffer, terms: SlotTerms, signature: string): boolean {
  const expected = Buffer.from(signSlot(secret, terms));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** One field per line: no field may hold a line break, so no two sets of terms sign the same text. */
function canonical(terms: SlotTerms): string {
  for (const field of [terms.path, terms.type, terms.owner]) if (/[\r\n]/.test(field)) throw new Error('slot terms may not contain line breaks');
  return ['v1', terms.path, String(terms.size), terms.type, String(terms.expires), terms.owner].join('\n');
}
