/**
 * Server Dialback keys (XEP-0185 section 3; XEP-0220 sections 2.1.1 and 2.2.2).
 *
 * key = hex(HMAC-SHA256(hex(SHA256(secret)), Receiving + ' ' + Originating + ' ' + StreamID))
 *
 * The HMAC key is the lowercase hex text of the secret's digest, not its raw bytes: that is
 * what the published test vectors reproduce.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The key the Initiating Server sends in `<db:result/>` and the Authoritative Server recomputes
 * from `<db:verify/>`. `receivingDomain` is the Target Domain, `originatingDomain` the Sender
 * Domain, `streamId` the id of the Receiving Server's response header on the stream that carries
 * the `<db:result/>` (after a TLS restart, the new one: RFC 6120 section 4.3.3).
 */
export function dialbackKey(secret: string, receivingDomain: string, originatingDomain: string, streamId: string): string {
  const secretKey = createHash('sha256').update(secret, 'utf8').digest('hex');
  return createHmac('sha256', secretKey).update(`${receivingDomain} ${originatingDomain} ${streamId}`, 'utf8').digest('hex');
}

/**
 * Whether a received key is the one we would generate. Surrounding whitespace is ignored (peers
 * wrap keys in newlines) and the comparison takes the same time wherever the keys differ.
 */
export function dialbackKeyMatches(
  received: string,
  secret: string,
  receivingDomain: string,
  originatingDomain: string,
  streamId: string,
): boolean {
  const expected = Buffer.from(dialbackKey(secret, receivingDomain, originatingDomain, streamId), 'utf8');
  const actual = Buffer.from(received.trim(), 'utf8');
  if (actual.length !== expected.length) {
    // timingSafeEqual needs equal lengths; doing the same work keeps the time independent of the input
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(actual, expected);
}
