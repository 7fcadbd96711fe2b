/**
 * vCard-temp (XEP-0054): a user stores their own vCard and anyone reads it by bare JID; the
 * server answers for the account (section 3.3: never forwarded to a resource).
 */
import { el, type Element } from '../../xml/element.ts';
import { parseElement } from '../../xml/parse-element.ts';
import { serialize } from '../../xml/serialize.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { Jid } from '../../jid/jid.ts';
import type { Storage } from '../../storage/types.ts';
import type { FeatureModule } from '../context.ts';

export const NS_VCARD = 'vcard-temp';
/** where an account's vCard is kept in its user data (also read and written by src/piefxis) */
export const VCARD_STORAGE_KEY = 'vcard';

/** The account's stored vCard, if it has one. */
export async function loadVcard(storage: Storage, account: Jid): Promise<Element | undefined> {
  const stored = await storage.userData.get(account.domain, account.local!, VCARD_STORAGE_KEY);
  return stored === undefined ? undefined : parseElement(stored);
}

export function saveVcard(storage: Storage, account: Jid, vcard: Element): Promise<void> {
  return storage.userData.set(account.domain, account.local!, VCARD_STORAGE_KEY, serialize(vcard));
}

export const vcardModule: FeatureModule = ({ host, storage }) => {
  // Section 3.1: no vCard yet is an empty <vCard/> for its owner.
  host.handleIq('account', 'get', NS_VCARD, 'vCard', async ({ to }) => (await loadVcard(storage, to)) ?? el('vCard', NS_VCARD));

  // Section 3.3: another user's vCard; none (or no such user) is item-not-found either way.
  host.handleIq('bare', 'get', NS_VCARD, 'vCard', async ({ to }) => {
    const vcard = await loadVcard(storage, to);
    if (!vcard) throw new StanzaError('item-not-found');
    return vcard;
  });

  // Section 3.2: the whole vCard is replaced; there are no partial updates.
  host.handleIq('account', 'set', NS_VCARD, 'vCard', async ({ to, payload }) => {
    await saveVcard(storage, to, payload);
    return undefined;
  });

  // Section 3.2: setting someone else's vCard is forbidden.
  host.handleIq('bare', 'set', NS_VCARD, 'vCard', () => {
    throw new StanzaError('forbidden', 'you may only set your own vCard');
  });

  host.discoFeatures.add(NS_VCARD);
};
