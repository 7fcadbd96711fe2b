/**
 * Offline messages (RFC 6121 section 8.5.2.2.1, XEP-0160): a normal or chat message that no
 * resource could take is stored, stamped with XEP-0203 delayed delivery, and delivered in
 * arrival order when its owner next sends initial presence.
 *
 * Delivery is paced to what the client takes: a batch at a time, and a message leaves the store
 * only once the client has it (written to its socket, or acknowledged under stream management,
 * XEP-0198). A client that disconnects mid-way finds the rest at its next login. While a
 * backlog is delivered, new messages for that resource join the store behind it, so they keep
 * their order; a session whose output budget is spent sends its messages the same way.
 */
import type { BoundSession } from '../../router/sessions.ts';
import type { Host, StanzaEvent } from '../../router/host.ts';
import type { OfflineMessage } from '../../storage/types.ts';
import type { Element } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule, ModuleContext } from '../context.ts';
import { parseStoredStanza, storedForm, withDelay } from './stored-stanza.ts';

/** XEP-0160 section 4: the service discovery feature of a server that stores offline messages. */
export const FEATURE_MSGOFFLINE = 'msgoffline';

/** Messages and bytes handed to a client at a time: the next batch waits until the client has this one. */
const BATCH_MESSAGES = 50;
const BATCH_BYTES = 256 * 1024;

/** A delivery running for a session; `more` is set when messages were stored for it meanwhile. */
interface Delivery {
  more: boolean;
}

export const offlineModule: FeatureModule = (context) => {
  const { host } = context;
  const running = new WeakMap<BoundSession, Delivery>();
  host.discoFeatures.add(FEATURE_MSGOFFLINE);
  host.events.on('message/offline', (event) => store(context, event));
  host.events.on('session/available', ({ session }) => startDelivery(context, running, session));
  host.events.on('session/backlog', ({ session }) => startDelivery(context, running, session));
};

/**
 * Stores the message; declines (so the sender gets service-unavailable) when storage is turned
 * off, and bounces it with a reason when the mailbox is full or holds as many messages from
 * this sender as one sender may leave (XEP-0160 section 2, step 3).
 */
async function store({ storage }: ModuleContext, { stanza, from, to, host }: StanzaEvent): Promise<boolean> {
  const { max_messages: maxMessages, max_bytes: maxBytes, max_per_sender: maxPerSender } = host.config.offline;
  if (maxMessages === 0 || to.local === undefined) return false;
  // XEP-0160 section 3: a message with only chat state notifications is not stored; a stale
  // "composing" is worth neither a place in the mailbox nor an error to the sender.
  if (onlyChatStates(stanza)) return true;
  const stamped = withDelay(stanza, host.domain, new Date());
  const outcome = await storage.offline.push(host.domain, to.local, storedForm(stamped), from.bare().toString(), { maxMessages, maxBytes, maxPerSender });
  if (outcome === 'mailbox-full') throw new StanzaError('service-unavailable', `the offline mailbox of ${to.bare()} is full`);
  if (outcome === 'sender-limit') throw new StanzaError('service-unavailable', `${to.bare()} already has ${maxPerSender} offline messages from you`);
  return true;
}

/**
 * XEP-0160 section 2, step 5: a resource with non-negative priority gets the stored messages,
 * oldest first. One delivery runs per session; a trigger while it runs makes it look again.
 */
function startDelivery(context: ModuleContext, running: WeakMap<BoundSession, Delivery>, session: BoundSession): void {
  if (session.jid.local === undefined || session.im.presence === undefined || session.im.priority < 0) return;
  const delivery = running.get(session);
  if (delivery) {
    delivery.more = true;
    return;
  }
  const started: Delivery = { more: false };
  running.set(session, started);
  session.offlineBacklog = true;
  deliverBacklog(context, session, started, () => running.delete(session)).catch((error: unknown) => {
    running.delete(session);
    context.logger.error('offline delivery failed', { jid: session.jid.toString(), error: error instanceof Error ? error.stack : String(error) });
  });
}

async function deliverBacklog({ storage, router, logger, host }: ModuleContext, session: BoundSession, delivery: Delivery, finished: () => void): Promise<void> {
  const username = session.jid.local!;
  let delivered = 0;
  for (;;) {
    const batch = await storage.offline.peek(host.domain, username, BATCH_MESSAGES, BATCH_BYTES);
    if (batch.length === 0) {
      if (delivery.more) {
        delivery.more = false;
        continue;
      }
      // Nothing waits: new messages go straight to the client again. Done in the same turn as
      // the check above, so a message stored for it from now on starts a new delivery.
      session.offlineBacklog = false;
      finished();
      break;
    }
    // The session ended: what is left stays stored for the next login.
    if (router.sessions.get(session.jid) !== session) return finished();
    const outcomes = await Promise.all(batch.map((message) => handOver(session, message, host, logger)));
    const handed = batch.filter((_, index) => outcomes[index]).map((message) => message.id);
    if (handed.length > 0) await storage.offline.remove(host.domain, username, handed);
    delivered += handed.length;
    if (handed.length < batch.length) return finished();
  }
  if (delivered > 0) logger.debug('delivered offline messages', { jid: session.jid.toString(), count: delivered });
}

/** Resolves true once the client has the message (or it was damaged beyond delivery), false when the session ended first. */
async function handOver(session: BoundSession, message: OfflineMessage, host: Host, logger: ModuleContext['logger']): Promise<boolean> {
  let stanza: Element;
  try {
    stanza = parseStoredStanza(message.stanza);
  } catch (error) {
    logger.error('dropping a damaged offline message', { jid: session.jid.bare().toString(), host: host.domain, error: error instanceof Error ? error.message : String(error) });
    return true;
  }
  return session.sendTracked(stanza);
}

const NS_CHAT_STATES = 'http://jabber.org/protocol/chatstates';

/** XEP-0085: a message whose only payload is a chat state (no body, subject or other content). */
function onlyChatStates(stanza: Element): boolean {
  const payload = stanza.elements().filter((child) => child.name !== 'thread');
  return payload.length > 0 && payload.every((child) => child.xmlns === NS_CHAT_STATES);
}

