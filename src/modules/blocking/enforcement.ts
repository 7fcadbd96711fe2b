/**
 * Enforcing block lists (XEP-0191, "User Blocks Contact"): nothing from a blocked address
 * reaches the user, and nothing the user sends reaches an address they blocked.
 */
import type { Jid } from '../../jid/jid.ts';
import type { OutboundStanzaEvent, StanzaEvent } from '../../router/host.ts';
import { StanzaError, errorReply } from '../../xml/stanza-error.ts';
import type { Blocklist } from './blocklist.ts';
import type { BlocklistStore } from './blocklist-store.ts';

export const NS_BLOCKING_ERRORS = 'urn:xmpp:blocking:errors';

/** Finds the block list of a user of any host of this server that has blocking enabled. */
export type BlocklistLookup = (user: Jid) => BlocklistStore | undefined;

/** Message types a blocked sender is told about (XEP-0191 section 3.5); the others are dropped without a word. */
const BOUNCED_MESSAGE_TYPES = new Set([undefined, 'normal', 'chat']);

/**
 * A stanza for one of this host's users. From an address the user blocked: presence is dropped
 * without a word, a chat or normal message or an IQ get/set bounces with service-unavailable (so
 * the user looks offline), other IQs, errors, headlines and group-chat messages are dropped: an
 * error to a room would make it remove the user (XEP-0045 section 7.2.19; as Prosody's
 * mod_blocklist, which bounces only chat and normal messages). Presence the server routes on behalf of
 * another local user (broadcasts, probe answers) to an address that user blocked is dropped too.
 */
export function checkInbound(event: StanzaEvent, store: BlocklistStore, lookup: BlocklistLookup): boolean | Promise<boolean> {
  const { from, to } = event;
  if (from.bare().equals(to.bare())) return false;
  const list = store.get(to);
  return list instanceof Promise ? list.then((loaded) => judgeInbound(event, loaded, lookup)) : judgeInbound(event, list, lookup);
}

/** `checkInbound` once the recipient's list is at hand. */
function judgeInbound(event: StanzaEvent, list: Blocklist, lookup: BlocklistLookup): boolean | Promise<boolean> {
  const { stanza, from, to } = event;
  if (list.matches(from)) {
    const type = stanza.attrs.type;
    if (stanza.name === 'presence' || type === 'error' || type === 'result') return true;
    if (stanza.name === 'message' && !BOUNCED_MESSAGE_TYPES.has(type)) return true;
    throw new StanzaError('service-unavailable');
  }
  if (stanza.name === 'presence' && from.local !== undefined) {
    const senderStore = lookup(from);
    if (!senderStore) return false;
    const senderList = senderStore.get(from);
    return senderList instanceof Promise ? senderList.then((loaded) => loaded.matches(to)) : senderList.matches(to);
  }
  return false;
}

/**
 * `checkInbound` without waiting, for deliveries that settle at once (src/events/bus.ts
 * `decide`): false when the lists in memory block nothing, undefined when a list is not in
 * memory or one blocks the stanza (then `checkInbound` gives the answer).
 */
export function decideInbound(event: StanzaEvent, store: BlocklistStore, lookup: BlocklistLookup): false | undefined {
  const { stanza, from, to } = event;
  if (from.bare().equals(to.bare())) return false;
  const list = store.peek(to);
  if (list === undefined || list.matches(from)) return undefined;
  if (stanza.name === 'presence' && from.local !== undefined) {
    const senderStore = lookup(from);
    const senderList = senderStore?.peek(from);
    if (senderStore !== undefined && (senderList === undefined || senderList.matches(to))) return undefined;
  }
  return false;
}

/**
 * A stanza one of this host's users sends to an address they blocked: refused with
 * not-acceptable carrying <blocked xmlns='urn:xmpp:blocking:errors'/>.
 */
export function checkOutbound(event: OutboundStanzaEvent, store: BlocklistStore): boolean | Promise<boolean> {
  const { stanza, from, to } = event;
  // Stanzas without 'to' are for the user's own account or broadcasts, never to a contact.
  if (stanza.attrs.to === undefined || to.bare().equals(from.bare())) return false;
  const list = store.get(from);
  return list instanceof Promise ? list.then((loaded) => refuseBlocked(event, loaded)) : refuseBlocked(event, list);
}

/** `checkOutbound` once the sender's list is at hand. */
function refuseBlocked({ stanza, to, session }: OutboundStanzaEvent, list: Blocklist): boolean {
  if (!list.matches(to)) return false;
  const reply = errorReply(stanza, new StanzaError('not-acceptable', undefined, 'cancel'));
  if (reply) {
    reply.getChild('error')?.c('blocked', {}, NS_BLOCKING_ERRORS);
    session.send(reply);
  }
  return true;
}
