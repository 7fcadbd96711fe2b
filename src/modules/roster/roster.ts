/**
 * Roster management (RFC 6121 section 2): roster get with versioning (section 2.6), roster set
 * to add or edit an item (section 2.3, 2.4) and to remove one (section 2.5).
 */
import type { FeatureModule } from '../context.ts';
import { el } from '../../xml/element.ts';
import { RosterService, newRosterItem } from './roster-service.ts';
import { NS_ROSTER, NS_ROSTER_VERSIONING, itemElement, parseRosterSet, queryElement } from './roster-xml.ts';

export const rosterModule: FeatureModule = ({ host, router, storage }) => {
  const rosters = new RosterService(storage, router);
  host.discoFeatures.add(NS_ROSTER);
  host.streamFeatures.postAuth.push(el('ver', NS_ROSTER_VERSIONING));

  host.handleIq('account', 'get', NS_ROSTER, 'query', async ({ payload, from }) => {
    // RFC 6121 section 2.1.6: a resource that asked for the roster is an interested resource.
    const session = router.sessions.get(from);
    if (session) session.im.rosterRequested = true;
    const roster = await rosters.roster(from);
    // RFC 6121 section 2.6.3: an unchanged roster is answered with an empty result.
    if (payload.attrs.ver !== undefined && payload.attrs.ver === String(roster.version)) return undefined;
    return queryElement(roster.version, roster.items.map(itemElement));
  });

  host.handleIq('account', 'set', NS_ROSTER, 'query', async ({ payload, from }) => {
    const request = parseRosterSet(payload, from);
    if (request.kind === 'remove') {
      await rosters.removeContact(from, request.jid);
      return undefined;
    }
    // RFC 6121 section 2.1.2: a client sets the name and groups; subscription state stays the server's.
    await rosters.update(from, request.jid, async (current) => ({
      ...(current ?? { ...newRosterItem(request.jid), askIn: await rosters.pending.has(from, request.jid) }),
      name: request.name,
      groups: request.groups,
    }));
    return undefined;
  });
};
