/**
 * Message carbons (XEP-0280): a resource that enables them gets a copy of every eligible
 * message its account sends from another resource (`<sent/>`) or receives on another resource
 * (`<received/>`), each wrapped as a forwarded message (XEP-0297) from the account's bare JID.
 * The choice is the session's (`im.carbons`): it stays while a stream management session is
 * resumed, and ends with the session.
 */
import type { Jid } from '../../jid/jid.ts';
import { STANZA_EVENTS } from '../../router/host.ts';
import type { BoundSession } from '../../router/sessions.ts';
import { el, NS_CLIENT, type Element } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule, ModuleContext } from '../context.ts';
import { NS_CARBONS, NS_FORWARD } from '../../xml/namespaces.ts';
import { isCarbonEligible, type CarbonDirection } from './eligibility.ts';

/** Runs after blocking and the strangers limit (which may refuse the message), before delivery. */
const CARBONS_PRIORITY = -50;

export const carbonsModule: FeatureModule = (context) => {
  const { host, router } = context;
  host.discoFeatures.add(NS_CARBONS);

  // Sections 4 and 5: each resource enables or disables carbons for itself; enabling twice or
  // disabling twice is no error (section 9.1).
  for (const [name, enabled] of [['enable', true], ['disable', false]] as const) {
    host.handleIq('account', 'set', NS_CARBONS, name, ({ from }) => {
      const session = router.sessions.get(from);
      // Sections 4.1 and 5.1: only a client of this server, on its own behalf.
      if (!session) throw new StanzaError('not-allowed', 'carbons are for clients connected to this server');
      session.im.carbons = enabled;
      return undefined;
    });
  }
  for (const name of ['enable', 'disable']) {
    host.handleIq('bare', 'set', NS_CARBONS, name, () => {
      throw new StanzaError('not-allowed', "you may not change another account's carbons");
    });
  }

  // Section 8: a <private/> message is not copied, and the element is removed before the
  // recipient gets the message. The mark survives the removal for the delivered event.
  const keptPrivate = new WeakSet<Element>();
  for (const form of ['bare', 'full'] as const) {
    host.events.on(STANZA_EVENTS.message[form], ({ stanza }) => {
      const marker = stanza.getChild('private', NS_CARBONS);
      if (marker) {
        keptPrivate.add(stanza);
        stanza.remove(marker);
      }
      return false;
    }, CARBONS_PRIORITY);
  }

  // Section 6: copies of a received message for the resources that did not get it. Whether
  // any resource would get a copy is asked first: most messages reach an account with one.
  host.events.on('message/delivered', ({ stanza, to, recipients }) => {
    if (!router.sessions.someOtherResource(to, recipients, wantsCarbons) || keptPrivate.has(stanza) || !isCarbonEligible(stanza, 'received')) return false;
    copyTo(context, to, stanza, 'received', recipients);
    return false;
  });

  // Section 7: copies of a sent message for the sender's other resources, whatever the
  // sending resource's own choice.
  host.events.on('pre-message', ({ stanza, session }) => {
    if (router.sessions.someOtherResource(session.jid, [session], wantsCarbons) && isCarbonEligible(stanza, 'sent')) copyTo(context, session.jid, stanza, 'sent', [session]);
    return false;
  });
};

const wantsCarbons = (session: BoundSession): boolean => session.im.carbons;

/** Sends the wrapped copy to each carbons-enabled resource of the account, except `skip`. */
function copyTo({ router }: ModuleContext, account: Jid, stanza: Element, direction: CarbonDirection, skip: readonly BoundSession[]): void {
  const bare = account.bare().toString();
  for (const session of router.sessions.resourcesOf(account)) {
    if (!session.im.carbons || skip.includes(session)) continue;
    session.send(carbonCopy(stanza, direction, bare, session.jid.toString()));
  }
}

/**
 * Sections 6 and 7: the copy keeps the original's type, comes from the account's bare JID, is
 * addressed to the resource's full JID, and carries the original in <forwarded/> (XEP-0297
 * section 3) inside <sent/> or <received/>.
 */
export function carbonCopy(stanza: Element, direction: CarbonDirection, bare: string, to: string): Element {
  return el('message', NS_CLIENT, { from: bare, to, type: stanza.attrs.type }, el(direction, NS_CARBONS, {}, el('forwarded', NS_FORWARD, {}, stanza.clone())));
}
