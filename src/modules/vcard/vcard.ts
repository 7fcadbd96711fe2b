/**
 * vCard-temp (XEP-0054): a user stores their own vCard and anyone reads it by bare JID; the
 * server answers for the account (section 3.3: never forwarded to a resource).
 */
import { el, type Element } from '../../xml/element.ts';
import { parseElement } from '../../xml/parse-element.ts';
import { serialize } from '../../xml/serialize.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule } from '../context.ts';

export const NS_VCARD = 'vcard-temp';
/** where an account's vCard is kept in its user data (also read and written by src/piefxis) */
export const VCARD_STORAGE_KEY = 'vcard';

export const vcardModule: FeatureModule = ({ host, storage }) => {
  const load = async (domain: string, username: string): Promise<Element | undefined> => {
    const stored = await storage.userData.get(domain, username, VCARD_STORAGE_KEY);
    return stored === undefined ? undefined : parseElement(stored);
  };

  // Section 3.1: no vCard yet is an empty <vCard/> for its owner.
  host.handleIq('account', 'get', NS_VCARD, 'vCard', async ({ to }) => (await load(to.domain, to.local!)) ?? el('vCard', NS_VCARD));

  // Section 3.3: another user's vCard; none (or no such user) is item-not-found either way.
  host.handleIq('bare', 'get', NS_VCARD, 'vCard', async ({ to }) => {
    const vcard = await load(to.domain, to.local!);
    if (!vcard) throw new StanzaError('item-not-found');
    return vcard;
  });

  // Section 3.2: the whole vCard is replaced; there are no partial updates.
  host.handleIq('account', 'set', NS_VCARD, 'vCard', async ({ to, payload }) => {
    await storage.userData.set(to.domain, to.local!, VCARD_STORAGE_KEY, serialize(payload));
    return undefined;
  });

  // Section 3.2: setting someone else's vCard is forbidden.
  host.handleIq('bare', 'set', NS_VCARD, 'vCard', () => {
    throw new StanzaError('forbidden', 'you may only set your own vCard');
  });

  host.discoFeatures.add(NS_VCARD);
};
