/**
 * XEP-0474 (SASL SCRAM Downgrade Protection, version 0.5) section 5.1: the hash of the mechanisms
 * and channel-binding types the server advertised, sent as the "h" attribute of
 * server-first-message. The client compares it with what it saw, and the SCRAM proof covers it,
 * so a man in the middle cannot strike a mechanism or a binding type from the lists unnoticed.
 */
import { digest, type ScramHash } from './scram.ts';

export interface AdvertisedAuthentication {
  mechanisms: readonly string[];
  /** the XEP-0440 channel-binding types, when the server advertised them */
  channelBindings?: readonly string[];
}

const MECHANISM_SEPARATOR = '\x1e';
const LIST_SEPARATOR = '\x1f';

/** Lists sorted by octet (RFC 4790 "i;octet"), joined by %x1E, the binding types after %x1F; hashed and base64-encoded. */
export function downgradeProtectionHash(hash: ScramHash, advertised: AdvertisedAuthentication): string {
  let text = byOctet(advertised.mechanisms).join(MECHANISM_SEPARATOR);
  if (advertised.channelBindings !== undefined) text += LIST_SEPARATOR + byOctet(advertised.channelBindings).join(MECHANISM_SEPARATOR);
  return digest(hash, Buffer.from(text, 'utf8')).toString('base64');
}

function byOctet(names: readonly string[]): string[] {
  return [...names].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}
