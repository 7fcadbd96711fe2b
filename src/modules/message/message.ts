/**
 * Message delivery to the accounts of a host (RFC 6121 section 8.5): a message is delivered,
 * stored for later (the `message/offline` event, served by the offline module) or bounced to its
 * sender; never lost without a word, except where the RFC says to ignore it.
 */
import type { Jid } from '../../jid/jid.ts';
import type { StanzaEvent } from '../../router/host.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule, ModuleContext } from '../context.ts';
import { bareRecipients, messageType } from './recipients.ts';

/** Runs after other features (blocking, archiving, ...) had their chance to take the message. */
const DELIVERY_PRIORITY = -100;

export const messageModule: FeatureModule = (context) => {
  const { host } = context;
  host.events.on('message/bare', (event) => deliverToBare(context, event), DELIVERY_PRIORITY);
  host.events.on('message/full', (event) => deliverToFull(context, event), DELIVERY_PRIORITY, (event) => deliverToConnectedResource(context, event));
  host.events.on('message/host', (event) => messageToServer(event), DELIVERY_PRIORITY);
};

/** Section 8.5.3.1 without waiting: true once a connected resource has the message, else undefined (`deliverToFull` decides). */
function deliverToConnectedResource(context: ModuleContext, event: StanzaEvent): true | undefined {
  const session = context.router.sessions.get(event.to);
  if (!session) return undefined;
  session.send(event.stanza);
  return true;
}

/** RFC 6121 section 8.5.3: a message to a full JID; settled at once when the resource is connected. */
function deliverToFull(context: ModuleContext, event: StanzaEvent): true | Promise<true> {
  const session = context.router.sessions.get(event.to);
  // Section 8.5.3.1: the resource is connected: it gets the message, whatever its type.
  if (session) {
    session.send(event.stanza);
    const told = context.host.events.settle('message/delivered', { stanza: event.stanza, from: event.from, to: event.to, host: event.host, recipients: [session] });
    return typeof told === 'boolean' ? true : told.then(() => true);
  }
  return deliverToAbsentResource(context, event);
}

/** Section 8.5.3.2.1: no such resource. */
async function deliverToAbsentResource(context: ModuleContext, event: StanzaEvent): Promise<true> {
  const type = messageType(event.stanza);
  if (type === 'error') return true;
  if (type === 'groupchat') throw new StanzaError('service-unavailable');
  return deliverToBare(context, { ...event, to: event.to.bare() });
}

/** RFC 6121 section 8.5.2: a message to a bare JID (or to a resource that is gone). */
async function deliverToBare(context: ModuleContext, event: StanzaEvent): Promise<true> {
  const { router } = context;
  const type = messageType(event.stanza);
  // Sections 8.5.2.1.1 and 8.5.2.2.1: an error message to a bare JID is silently ignored.
  if (type === 'error') return true;
  const available = router.sessions.availableResourcesOf(event.to);
  // Section 8.5.1: no such account: service-unavailable (a connected resource proves the account).
  if (router.sessions.resourcesOf(event.to).length === 0 && !(await accountExists(context, event.to))) {
    throw new StanzaError('service-unavailable');
  }
  // Sections 8.5.2.1.1 and 8.5.2.2.1: groupchat to a bare JID is never delivered.
  if (type === 'groupchat') throw new StanzaError('service-unavailable');
  const recipients = bareRecipients(type, available);
  for (const session of recipients) session.send(event.stanza);
  if (recipients.length > 0) await context.host.events.emit('message/delivered', { ...event, recipients });
  // Section 8.5.2.2.1: a headline nobody can take is silently ignored.
  if (recipients.length > 0 || type === 'headline') return true;
  // Section 8.5.2.2.1: normal or chat with no resource able to take it: offline storage, else bounce.
  if (await context.host.events.emit('message/offline', event)) return true;
  throw new StanzaError('service-unavailable');
}

/**
 * RFC 6120 section 10.5.1: a message to the server's own domain that no feature took. The server
 * has no one to read it, so it answers service-unavailable (section 8.3.3.19); a headline or
 * an error expects no answer and is ignored.
 */
function messageToServer(event: StanzaEvent): true {
  const type = messageType(event.stanza);
  if (type === 'headline' || type === 'error') return true;
  throw new StanzaError('service-unavailable');
}

async function accountExists({ storage }: ModuleContext, jid: Jid): Promise<boolean> {
  return jid.local !== undefined && (await storage.accounts.get(jid.domain, jid.local)) !== undefined;
}
