/**
 * Whether an account lets someone see its presence (RFC 6121 section 3): the account itself, or
 * a contact whose roster item has a subscription of `from` or `both`. Features that answer for
 * an account (disco, ping, last activity) ask this before telling anything about it.
 */
import type { Jid } from '../../jid/jid.ts';
import type { Storage } from '../../storage/types.ts';

export async function sharesPresenceWith(storage: Storage, account: Jid, requester: Jid): Promise<boolean> {
  if (account.local === undefined) return false;
  if (requester.bare().equals(account.bare())) return true;
  const item = await storage.rosters.getItem(account.domain, account.local, requester.bare().toString());
  return item?.subscription === 'from' || item?.subscription === 'both';
}
