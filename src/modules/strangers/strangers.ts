/**
 * A limit on unsolicited messages: a sender the recipient does not know (a "stranger") may send
 * at most `strangers.max_messages` chat and normal messages per `strangers.window` seconds to
 * this host's users, all recipients together, counted per sender bare JID. Beyond it the
 * message bounces with policy-violation and is neither delivered nor stored offline, so one
 * address cannot flood users who never accepted contact or fill their offline storage.
 *
 * The recipient knows the sender when:
 * - the recipient's roster has an item for the sender's bare JID, whatever its subscription
 *   (RFC 6121 section 2.1.2.5): even `none` means the user added the contact or accepted a
 *   request at some point. An inbound subscription request alone creates no roster item
 *   (RFC 6121 section 3.1.3), so asking for a subscription does not make a stranger known;
 * - or one of the recipient's resources sent directed presence to an address at the sender's
 *   bare JID (RFC 6121 section 4.6), as joining a chat room does: private messages from the
 *   room's occupants come from the room's JID.
 * Messages between resources of one account, and from the server's own domains, are never
 * limited.
 *
 * Only `chat` and `normal` messages count (RFC 6121 section 5.2.2): `error` answers something
 * the user sent; `groupchat` comes from rooms the user joined; `headline` is never stored
 * offline (RFC 6121 section 8.5.2.2.1) and is what publish-subscribe services (XEP-0060) send
 * to their subscribers, who rarely have the service in their roster.
 */
import type { Jid } from '../../jid/jid.ts';
import { STANZA_EVENTS, type StanzaEvent } from '../../router/host.ts';
import type { Element } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule, ModuleContext } from '../context.ts';
import { messageType } from '../message/recipients.ts';
import { StrangerLimit } from './stranger-limit.ts';

/** After blocking (100): a blocked sender gets its usual answer and is not counted; before delivery and offline storage (-100). */
const STRANGERS_PRIORITY = 50;

export const strangersModule: FeatureModule = (context) => {
  const { host } = context;
  const { max_messages: max, window } = host.config.strangers;
  // 0 turns the limit off: no handler, so no roster lookups either.
  if (max === 0) return;
  const limit = new StrangerLimit(max, window * 1000);
  const text = `too many messages to people who do not have you in their contacts; at most ${max} ${per(window)}`;
  for (const form of ['bare', 'full'] as const) {
    // Only chat and normal messages count: any other type passes without a lookup.
    const decide = ({ stanza }: StanzaEvent) => (limited(stanza) ? undefined : false);
    host.events.on(STANZA_EVENTS.message[form], (event) => checkStranger(context, limit, text, event), STRANGERS_PRIORITY, decide);
  }
};

async function checkStranger(context: ModuleContext, limit: StrangerLimit, text: string, event: StanzaEvent): Promise<false> {
  const { stanza, from, to } = event;
  if (!limited(stanza)) return false;
  if (to.local === undefined || from.bare().equals(to.bare())) return false;
  if (from.local === undefined && context.router.hosts.has(from.domain)) return false;
  if (await knows(context, to, from)) return false;
  const sender = from.bare().toString();
  const decision = limit.check(sender);
  if (decision.allowed) return false;
  if (decision.warn) {
    context.logger.warn('messages from a stranger refused: over the limit until the window passes', { sender, max_messages: limit.max, window: limit.windowMs / 1000 });
  }
  // RFC 6120 section 8.3.3.12: policy-violation, with the policy in <text/>; type "wait"
  // (section 8.3.2): the same message goes through once the window has passed.
  throw new StanzaError('policy-violation', text, 'wait');
}

function limited(stanza: Element): boolean {
  const type = messageType(stanza);
  return type === 'chat' || type === 'normal';
}

/** Whether the user has the sender in their roster or sent it directed presence (see above). */
async function knows({ router, storage }: ModuleContext, user: Jid, sender: Jid): Promise<boolean> {
  const bare = sender.bare();
  for (const session of router.sessions.resourcesOf(user)) {
    for (const address of session.im.directedPresence) {
      if (address === bare.toString() || address.startsWith(`${bare}/`)) return true;
    }
  }
  return (await storage.rosters.getItem(user.domain, user.local!, bare.toString())) !== undefined;
}

/** "a minute", "an hour", "every 90 seconds": the window as the error text says it. */
function per(seconds: number): string {
  if (seconds === 1) return 'a second';
  if (seconds === 60) return 'a minute';
  if (seconds === 3600) return 'an hour';
  if (seconds === 86_400) return 'a day';
  return `every ${seconds} seconds`;
}
