/**
 * Push notifications (XEP-0357): a user's device registers an app server (a pubsub node on a
 * service of its vendor's) and the server publishes a notification there for each chat or
 * normal message with a body that no client of the user will see soon: one that goes to
 * offline storage, or that reached only clients that said they are inactive (XEP-0352) or whose
 * connection dropped while stream management keeps their session for resumption (XEP-0198).
 * The notification goes out like any stanza from the user's bare JID, over server-to-server
 * connections or to a local service. docs/push.md is the operator's view.
 */
import type { BoundSession } from '../../router/sessions.ts';
import type { StanzaEvent } from '../../router/host.ts';
import type { Element } from '../../xml/element.ts';
import type { FeatureModule, ModuleContext } from '../context.ts';
import { messageType } from '../message/recipients.ts';
import { notificationIq, NS_PUSH } from './notification.ts';
import { addRegistration, parseDisable, parseEnable, registrationsOf, removeRegistrations } from './registrations.ts';

/** Before offline storage (0) takes the message; the notification does not stop it. */
const PUSH_PRIORITY = 10;
/** Accounts whose count of unseen messages is kept; beyond it the oldest count starts again. */
const MAX_COUNTED_ACCOUNTS = 100_000;

export const pushModule: FeatureModule = (context) => {
  const { host, storage } = context;
  // Section 4: the user's server advertises push on the account.
  host.accountDiscoFeatures.add(NS_PUSH);
  const unseen = new Map<string, number>();

  host.handleIq('account', 'set', NS_PUSH, 'enable', async ({ to, payload }) => {
    await addRegistration(storage.userData, host.domain, to.local!, parseEnable(payload), host.config.push.max_registrations);
    return undefined;
  });
  host.handleIq('account', 'set', NS_PUSH, 'disable', async ({ to, payload }) => {
    const { jid, node } = parseDisable(payload);
    await removeRegistrations(storage.userData, host.domain, to.local!, jid, node);
    return undefined;
  });

  host.events.on('message/offline', (event) => notifyLater(context, unseen, event), PUSH_PRIORITY);
  host.events.on('message/delivered', (event) => (event.recipients.every(isAway) ? notifyLater(context, unseen, event) : false));
  // A client that comes online has seen what it missed: the count starts again.
  host.events.on('session/available', ({ session }) => void unseen.delete(session.jid.bare().toString()));
};

/** Section 7 leaves to the server when the user is reachable only through push. */
function isAway(session: BoundSession): boolean {
  return session.inactive === true || session.state === 'detached';
}

function pushable(stanza: Element): boolean {
  const type = messageType(stanza);
  return (type === 'chat' || type === 'normal') && stanza.getChild('body') !== undefined;
}

/** Never holds the message up: the notification is sent in the background. */
function notifyLater(context: ModuleContext, unseen: Map<string, number>, event: StanzaEvent): false {
  if (event.to.local === undefined || !pushable(event.stanza)) return false;
  notify(context, unseen, event).catch((error: unknown) => context.logger.error('push notification failed', { account: event.to.bare().toString(), error: error instanceof Error ? error.message : String(error) }));
  return false;
}

async function notify({ host, storage, router }: ModuleContext, unseen: Map<string, number>, { stanza, from, to }: StanzaEvent): Promise<void> {
  const registrations = await registrationsOf(storage.userData, host.domain, to.local!);
  if (registrations.length === 0) return;
  const account = to.bare().toString();
  const count = (unseen.get(account) ?? 0) + 1;
  unseen.delete(account);
  if (unseen.size >= MAX_COUNTED_ACCOUNTS) unseen.delete(unseen.keys().next().value!);
  unseen.set(account, count);
  const summary = { messageCount: count, lastSender: from.bare().toString(), lastBody: stanza.getChildText('body') };
  for (const registration of registrations) await router.route(notificationIq(account, registration, summary, host.config.push), { kind: 'local' });
}
