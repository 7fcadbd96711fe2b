/**
 * Offline messages (RFC 6121 section 8.5.2.2.1, XEP-0160): a normal or chat message that no
 * resource could take is stored, stamped with XEP-0203 delayed delivery, and delivered in
 * arrival order when its owner next sends initial presence.
 */
import type { SessionEvent, StanzaEvent } from '../../router/host.ts';
import type { Element } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule, ModuleContext } from '../context.ts';
import { parseStoredStanza, storedForm, withDelay } from './stored-stanza.ts';

/** XEP-0160 section 4: the service discovery feature of a server that stores offline messages. */
export const FEATURE_MSGOFFLINE = 'msgoffline';

export const offlineModule: FeatureModule = (context) => {
  const { host } = context;
  host.discoFeatures.add(FEATURE_MSGOFFLINE);
  host.events.on('message/offline', (event) => store(context, event));
  host.events.on('session/available', (event) => deliverStored(context, event));
};

/**
 * Stores the message; declines (so the sender gets service-unavailable) when storage is turned
 * off, and bounces it with a reason when the mailbox is full (XEP-0160 section 2, step 3).
 */
async function store({ storage }: ModuleContext, { stanza, to, host }: StanzaEvent): Promise<boolean> {
  const quota = host.config.offline.max_messages;
  if (quota === 0 || to.local === undefined) return false;
  // XEP-0160 section 3: a message with only chat state notifications is not stored; a stale
  // "composing" is worth neither a place in the mailbox nor an error to the sender.
  if (onlyChatStates(stanza)) return true;
  const stamped = withDelay(stanza, host.domain, new Date());
  if (!(await storage.offline.push(host.domain, to.local, storedForm(stamped), quota))) {
    throw new StanzaError('service-unavailable', `the offline mailbox of ${to.bare()} is full`);
  }
  return true;
}

/**
 * XEP-0160 section 2, step 5: when the user sends initial presence with non-negative priority,
 * the stored messages go to that resource, oldest first, and leave the store. If the resource
 * went away meanwhile, each message is routed again, so it reaches another resource or is
 * stored once more: nothing is lost.
 */
async function deliverStored({ storage, router, logger }: ModuleContext, { session, host }: SessionEvent): Promise<void> {
  const username = session.jid.local;
  if (username === undefined || session.im.priority < 0) return;
  const messages = await storage.offline.takeAll(host.domain, username);
  for (const message of messages) {
    let stanza;
    try {
      stanza = parseStoredStanza(message.stanza);
    } catch (error) {
      logger.error('dropping a damaged offline message', { jid: session.jid.bare().toString(), error: error instanceof Error ? error.message : String(error) });
      continue;
    }
    if (router.sessions.get(session.jid) === session) session.send(stanza);
    else await router.route(stanza, { kind: 'local' });
  }
  if (messages.length > 0) logger.debug('delivered offline messages', { jid: session.jid.toString(), count: messages.length });
}


const NS_CHAT_STATES = 'http://jabber.org/protocol/chatstates';

/** XEP-0085: a message whose only payload is a chat state (no body, subject or other content). */
function onlyChatStates(stanza: Element): boolean {
  const payload = stanza.elements().filter((child) => child.name !== 'thread');
  return payload.length > 0 && payload.every((child) => child.xmlns === NS_CHAT_STATES);
}
