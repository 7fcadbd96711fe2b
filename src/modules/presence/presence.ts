/**
 * Presence (RFC 6121 sections 3 and 4): broadcast of a client's presence, directed presence,
 * subscriptions with pre-approval, probes, and delivery of presence arriving for local users.
 */
import { el } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule } from '../context.ts';
import type { StanzaEvent } from '../../router/host.ts';
import { RosterService } from '../roster/roster-service.ts';
import { PresenceBroadcast } from './broadcast.ts';
import { answerProbe } from './probes.ts';
import { readdressed } from './stanzas.ts';
import { isSubscriptionType } from './subscription-states.ts';
import { Subscriptions } from './subscriptions.ts';
import { NS_PARS, takeContactInvite } from '../register/invites.ts';

/** Stream feature announcing subscription pre-approval (RFC 6121 section 3.4.1). */
export const NS_PRE_APPROVAL = 'urn:xmpp:features:pre-approval';

export const presenceModule: FeatureModule = ({ host, router, storage, logger }) => {
  const rosters = new RosterService(storage, router);
  const subscriptions = new Subscriptions(router, rosters, storage.accounts);
  const broadcast = new PresenceBroadcast(host, router, rosters);
  host.streamFeatures.postAuth.push(el('sub', NS_PRE_APPROVAL));

  // Presence a client of this host sends.
  host.events.on('pre-presence', async ({ stanza, session, to }) => {
    const type = stanza.attrs.type;
    if (type === 'error') return false;
    if (stanza.attrs.to === undefined) {
      if (type === undefined) await broadcast.available(session, stanza);
      else if (type === 'unavailable') await broadcast.unavailable(session, stanza);
      else if (type !== 'probe') throw new StanzaError('bad-request', `presence of type '${type}' needs a 'to'`);
      return true;
    }
    if (isSubscriptionType(type)) {
      // RFC 6121 section 3: subscriptions are between accounts, never with oneself.
      if (to.bare().equals(session.jid.bare())) throw new StanzaError('bad-request', 'you cannot subscribe to your own presence');
      await subscriptions.outbound(session.jid, to, type, stanza);
      return true;
    }
    if (type === 'probe') {
      // RFC 6121 section 4.3.1: probes go out from the bare JID, to a bare JID.
      await router.route(readdressed(stanza, { from: session.jid.bare().toString(), to: to.bare().toString() }), { kind: 'local' });
      return true;
    }
    if (type !== undefined && type !== 'unavailable') throw new StanzaError('bad-request', `unknown presence type '${type}'`);
    // RFC 6121 section 4.6: directed presence is routed as it is, and remembered.
    if (!to.bare().equals(session.jid.bare())) broadcast.trackDirected(session, stanza, to.toString());
    return false;
  });

  // Available and unavailable presence arriving for an account of this host settle at once
  // (RFC 6121 sections 8.5.2.1.1 and 8.5.3.1): to every available resource of the account, or to
  // the one addressed (dropped when it is gone). So a broadcast to a thousand contacts needs no
  // promise per contact (broadcast.ts, Router.deliverNow).
  const deliverAtOnce = ({ stanza, to }: StanzaEvent): true | undefined => {
    const type = stanza.attrs.type;
    if (type !== undefined && type !== 'unavailable') return undefined;
    if (to.resource !== undefined) router.sessions.get(to)?.send(stanza);
    else for (const session of router.sessions.availableResourcesOf(to)) session.send(stanza);
    return true;
  };
  /**
   * XEP-0379 section 3.5: a subscription request carrying one of the user's own invitations
   * (XEP-0401, src/modules/register/invites.ts) is approved, and answered with a request back.
   */
  const invited = async ({ stanza, from, to }: StanzaEvent): Promise<boolean> => {
    const token = stanza.getChild('preauth', NS_PARS)?.attrs.token;
    if (token === undefined || to.local === undefined || host.config.registration.user_invites === 'off') return false;
    if (!(await takeContactInvite(storage, to, token))) return false;
    logger.info('contact invitation used', { user: to.bare().toString(), contact: from.bare().toString() });
    await subscriptions.invitedRequest(to, from, stanza);
    return true;
  };

  // Presence arriving for an account of this host, from a local user or another server.
  const inbound = async (event: StanzaEvent): Promise<boolean> => {
    const { stanza, from, to } = event;
    const type = stanza.attrs.type;
    if (type === 'error') return false;
    if (deliverAtOnce(event)) return true;
    if (type === 'subscribe' && (await invited(event))) return true;
    if (isSubscriptionType(type)) await subscriptions.inbound(to, from, type, stanza);
    else if (type === 'probe') await answerProbe(router, rosters, storage.accounts, to, from);
    // Any other type is not presence this server understands: dropped (RFC 6121 section 4.7.1).
    return true;
  };
  host.events.on('presence/bare', inbound, 0, deliverAtOnce);
  host.events.on('presence/full', inbound, 0, deliverAtOnce);

  // RFC 6121 section 3.1.3: requests that waited are delivered when the user becomes available.
  host.events.on('session/available', async ({ session }) => {
    for (const request of await rosters.pending.all(session.jid.bare())) session.send(request);
  });

  // RFC 6121 section 4.5.3: a stream that ends without unavailable presence implies it.
  host.events.on('session/closed', async ({ session }) => {
    // RFC 6120 section 7.7.2.2: a session replaced on its resource by one that already announced
    // itself must not make that resource look offline; only its directed presence is withdrawn.
    const successor = router.sessions.get(session.jid);
    if (successor !== undefined && successor !== session && successor.im.available) session.im.presence = undefined;
    if (session.im.available || session.im.directedPresence.size > 0) await broadcast.unavailable(session, undefined);
  });
};
