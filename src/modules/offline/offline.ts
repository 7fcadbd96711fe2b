/**
 * Offline messages (RFC 6121 section 8.5.2.2.1, XEP-0160): a normal or chat message that no
 * resource could take is stored, stamped with XEP-0203 delayed delivery, and delivered in
 * arrival order when its owner next sends initial presence.
 *
 * Delivery is paced to what the client takes: a batch at a time, and a message leaves the store
 * only once the client has it (written to its socket, or acknowledged under stream management,
 * XEP-0198). A client that disconnects mid-way finds the rest at its next login. While a
 * backlog is delivered, new messages for that resource wait behind it in its session (in the
 * store past its output budget), so they keep their order; a session whose output budget is
 * spent sends its messages to the store.
 */
import { arrivalOf } from '../../router/arrival.ts';
import type { BoundSession } from '../../router/sessions.ts';
import type { Host, StanzaEvent } from '../../router/host.ts';
import type { OfflineMessage } from '../../storage/types.ts';
import type { Element } from '../../xml/element.ts';
import { onlyChatStates } from '../../xml/chat-states.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule, ModuleContext } from '../context.ts';
import { parseStoredStanza, storedForm, withDelay } from './stored-stanza.ts';

/** XEP-0160 section 4: the service discovery feature of a server that stores offline messages. */
export const FEATURE_MSGOFFLINE = 'msgoffline';

/** Messages and bytes handed to a client at a time: the next batch waits until the client has this one. */
const BATCH_MESSAGES = 50;
const BATCH_BYTES = 256 * 1024;

/**
 * The delivery running for an account: one at a time, so no message goes out twice. `waiting`
 * holds the sessions whose messages queue behind it; `more` is set when messages were stored
 * meanwhile.
 */
interface Delivery {
  more: boolean;
  readonly waiting: Set<BoundSession>;
}

export const offlineModule: FeatureModule = (context) => {
  const { host } = context;
  const running = new Map<string, Delivery>();
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
  const quota = { maxMessages, maxBytes, maxPerSender };
  const outcome = await storage.offline.push(host.domain, to.local, storedForm(stamped), from.bare().toString(), quota, arrivalOf(stanza));
  if (outcome === 'mailbox-full') throw new StanzaError('service-unavailable', `the offline mailbox of ${to.bare()} is full`);
  if (outcome === 'sender-limit') throw new StanzaError('service-unavailable', `${to.bare()} already has ${maxPerSender} offline messages from you`);
  return true;
}

/**
 * XEP-0160 section 2, step 5: a resource with non-negative priority gets the stored messages,
 * oldest first. One delivery runs per account; a trigger while it runs makes it look again, and
 * if its session ends the next waiting session takes over.
 */
function startDelivery(context: ModuleContext, running: Map<string, Delivery>, session: BoundSession): void {
  if (!takesOfflineMessages(session)) return;
  const account = session.jid.bare().toString();
  session.offlineBacklog = true;
  const current = running.get(account);
  if (current) {
    current.more = true;
    current.waiting.add(session);
    return;
  }
  const delivery: Delivery = { more: false, waiting: new Set([session]) };
  running.set(account, delivery);
  const finish = (): void => {
    // Nothing waits any more: new messages go straight to the clients again.
    for (const waiting of delivery.waiting) waiting.offlineBacklog = false;
    running.delete(account);
  };
  deliverToAccount(context, delivery, session, finish).catch((error: unknown) => {
    finish();
    context.logger.error('offline delivery failed', { jid: session.jid.toString(), error: error instanceof Error ? error.stack : String(error) });
  });
}

/** The spills to storage under way for the sessions this delivery serves, if any. */
function spillsUnderWay(delivery: Delivery): Promise<unknown> | undefined {
  const spilling = [...delivery.waiting].flatMap((session) => session.spilling ?? []);
  return spilling.length === 0 ? undefined : Promise.all(spilling);
}

function takesOfflineMessages(session: BoundSession): boolean {
  return session.jid.local !== undefined && session.im.available && session.im.priority >= 0;
}

async function deliverToAccount(context: ModuleContext, delivery: Delivery, first: BoundSession, finish: () => void): Promise<void> {
  const { router, logger } = context;
  let session: BoundSession | undefined = first;
  let delivered = 0;
  while (session) {
    const outcome = await deliverBacklog(context, session, delivery, finish);
    delivered += outcome.delivered;
    if (outcome.finished) break;
    // The session ended mid-way: the next live waiting session takes the rest.
    delivery.waiting.delete(session);
    session = [...delivery.waiting].find((candidate) => router.sessions.get(candidate.jid) === candidate && takesOfflineMessages(candidate));
    if (!session) finish();
  }
  if (delivered > 0) logger.debug('delivered offline messages', { jid: first.jid.bare().toString(), count: delivered });
}

/** Hands the stored messages to `session` batch by batch; stops when none are left (and calls `finish` in that same turn) or the session ends. */
async function deliverBacklog({ storage, router, logger, host }: ModuleContext, session: BoundSession, delivery: Delivery, finish: () => void): Promise<{ delivered: number; finished: boolean }> {
  const username = session.jid.local!;
  let delivered = 0;
  for (;;) {
    const batch = await storage.offline.peek(host.domain, username, BATCH_MESSAGES, BATCH_BYTES);
    if (batch.length === 0) {
      if (delivery.more) {
        delivery.more = false;
        continue;
      }
      // A message that arrived during the read went to storage behind it, and is not stored yet:
      // the backlog is not done before it is, or the messages after it would overtake it.
      const spilling = spillsUnderWay(delivery);
      if (spilling !== undefined) {
        await spilling;
        continue;
      }
      // Done in the same turn as the check above, so a message stored from now on starts a new delivery.
      finish();
      return { delivered, finished: true };
    }
    if (router.sessions.get(session.jid) !== session) return { delivered, finished: false };
    const outcomes = await Promise.all(batch.map((message) => handOver(session, message, host, logger)));
    const handed = batch.filter((_, index) => outcomes[index]).map((message) => message.id);
    if (handed.length > 0) await storage.offline.remove(host.domain, username, handed);
    delivered += handed.length;
    if (handed.length < batch.length) return { delivered, finished: false };
  }
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

