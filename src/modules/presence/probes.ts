/**
 * Presence probes arriving for a local user (RFC 6121 section 4.3.2): only an entity the user
 * has granted a subscription (from or both) learns the user's presence.
 */
import type { Jid } from '../../jid/jid.ts';
import type { Router } from '../../router/router.ts';
import type { AccountStore } from '../../storage/types.ts';
import type { RosterService } from '../roster/roster-service.ts';
import { contactSeesUser } from './subscription-states.ts';
import { presence, readdressed } from './stanzas.ts';

export async function answerProbe(router: Router, rosters: RosterService, accounts: AccountStore, user: Jid, prober: Jid): Promise<void> {
  user = user.bare();
  const exists = (await accounts.get(user.domain, user.local!)) !== undefined;
  const item = exists ? await rosters.item(user, prober) : undefined;
  if (!item || !contactSeesUser(item.subscription)) {
    // RFC 6121 section 4.3.2: no presence for a non-subscriber, but "unsubscribed" so its server can resynchronize.
    await router.route(presence('unsubscribed', user, prober.bare()), { kind: 'local' });
    return;
  }
  const resources = router.sessions.availableResourcesOf(user);
  if (resources.length === 0) {
    await router.route(presence('unavailable', user, prober), { kind: 'local' });
    return;
  }
  for (const session of resources) {
    await router.route(readdressed(session.im.presence!, { to: prober.toString() }), { kind: 'local' });
  }
}
