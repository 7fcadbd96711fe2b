/**
 * Presence over a link that comes back (docs/links.md): presence is state, not a message, so it
 * is not queued while the link is down; when it is up again, each available local resource's
 * current presence (RFC 6121 section 4.2) goes to its contacts behind the link that are
 * subscribed to it (subscription from or both, section 4.4.2).
 */
import type { Element } from '../xml/element.ts';
import type { LinkDomains } from './domains.ts';
import type { LinkContext } from './link.ts';

export async function sendCurrentPresence(context: LinkContext, local: LinkDomains, remote: LinkDomains, write: (presence: Element) => boolean): Promise<void> {
  for (const session of [...context.router.sessions.all()]) {
    const username = session.jid.local;
    if (!session.im.available || username === undefined || !local.has(session.jid.domain)) continue;
    const presence = session.im.presence!;
    let roster;
    try {
      roster = await context.storage.rosters.get(session.jid.domain, username);
    } catch (error) {
      context.logger.error('link presence: roster read failed', { jid: session.jid.toString(), error: (error as Error).message });
      continue;
    }
    for (const item of roster.items) {
      if (item.subscription !== 'from' && item.subscription !== 'both') continue;
      const at = item.jid.lastIndexOf('@');
      if (!remote.has(at < 0 ? item.jid : item.jid.slice(at + 1))) continue;
      const copy = presence.clone();
      copy.attrs.from = session.jid.toString();
      copy.attrs.to = item.jid;
      if (!write(copy)) return;
    }
  }
}
