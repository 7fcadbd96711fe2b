/**
 * Deleting an account, by its owner (XEP-0077 section 3.2) or by an administrator (XEP-0133
 * section 4.2): everything stored for it goes, its contacts learn that the subscriptions are
 * gone (RFC 6121 sections 3.2 and 3.3), and its sessions end with a not-authorized stream error.
 */
import type { Jid } from '../../jid/jid.ts';
import { NS_CLIENT, el } from '../../xml/element.ts';
import type { ModuleContext } from '../context.ts';

/**
 * Returns false when there was no such account. The sessions end on the next turn, so that an
 * answer the caller sends on one of them is written first.
 */
export async function removeAccount({ host, router, storage }: ModuleContext, account: Jid, reason: string): Promise<boolean> {
  const username = account.local!;
  const bare = account.bare().toString();
  const roster = await storage.rosters.get(host.domain, username);
  if (!(await storage.accounts.delete(host.domain, username))) return false;
  const cancel = (to: string, type: 'unsubscribe' | 'unsubscribed'): Promise<void> => router.route(el('presence', NS_CLIENT, { from: bare, to, type }), { kind: 'local' });
  for (const item of roster.items) {
    if (item.subscription === 'to' || item.subscription === 'both') await cancel(item.jid, 'unsubscribe');
    if (item.subscription === 'from' || item.subscription === 'both') await cancel(item.jid, 'unsubscribed');
  }
  setImmediate(() => {
    for (const session of router.sessions.resourcesOf(account.bare())) session.terminate('not-authorized', reason);
  });
  return true;
}
