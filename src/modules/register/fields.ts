/** The fields of a jabber:iq:register query (XEP-0077 section 3). */
import { JidMalformedError, prepareLocalpart } from '../../jid/jid.ts';
import { makeStoredCredentials } from '../../auth/scram.ts';
import { PrecisError } from '../../jid/precis.ts';
import type { StoredCredentials } from '../../storage/types.ts';
import type { Element } from '../../xml/element.ts';
import { StanzaError, type StanzaErrorCondition } from '../../xml/stanza-error.ts';

export const NS_REGISTER = 'jabber:iq:register';
/** XEP-0077 section 8: the stream feature. */
export const NS_REGISTER_FEATURE = 'http://jabber.org/features/iq-register';

/** The username, prepared as a localpart (RFC 7622 section 3.3); `condition` when missing or invalid. */
export function usernameOf(query: Element, condition: StanzaErrorCondition): string {
  const raw = query.getChildText('username')?.trim() ?? '';
  if (raw === '') throw new StanzaError(condition, 'a username is required');
  try {
    return prepareLocalpart(raw);
  } catch (error) {
    if (error instanceof JidMalformedError) throw new StanzaError(condition, `invalid username: ${error.message}`);
    throw error;
  }
}

/**
 * SCRAM verifiers for the password in the query (never the password itself). An empty
 * password is refused (section 3.1 and 3.3: the password is never set to nothing).
 */
export function credentialsOf(query: Element, iterations: number, condition: StanzaErrorCondition): StoredCredentials {
  const password = query.getChildText('password') ?? '';
  if (password === '') throw new StanzaError(condition, 'a non-empty password is required');
  try {
    return makeStoredCredentials(password, iterations);
  } catch (error) {
    // RFC 8265 section 4.2: passwords are OpaqueString; control characters and the like are refused.
    if (error instanceof PrecisError) throw new StanzaError(condition, `invalid password: ${error.message}`);
    throw error;
  }
}
