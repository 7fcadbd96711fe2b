/** Rules shared by the SASL mechanisms. */
import { JidMalformedError, prepareDomain, prepareLocalpart, tryParseJid } from '../jid/jid.ts';
import type { SaslFailureCondition, SaslStep } from './sasl.ts';

export function failure(condition: SaslFailureCondition, text?: string): SaslStep {
  return text === undefined ? { kind: 'failure', condition } : { kind: 'failure', condition, text };
}

/** The authentication identity is an XMPP localpart (RFC 6120 section 6.3.8). */
export function prepareUsername(raw: string): string | undefined {
  try {
    return prepareLocalpart(raw);
  } catch (error) {
    if (error instanceof JidMalformedError) return undefined;
    throw error;
  }
}

/**
 * An authorization identity is only accepted when it names the authenticated account itself
 * (RFC 6120 section 6.3.8): acting as another user is not something this server grants.
 */
export function isOwnBareJid(authzid: string, username: string, domain: string): boolean {
  const jid = tryParseJid(authzid);
  return jid !== undefined && jid.isBare() && jid.local === username && jid.domain === prepareDomain(domain);
}
