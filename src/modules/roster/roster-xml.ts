/**
 * The roster's wire format (RFC 6121 section 2.1): items as <item/> elements, and the checks a
 * roster set must pass (section 2.3.3) before anything is stored.
 */
import { parseJid, JidMalformedError, type Jid } from '../../jid/jid.ts';
import { Element, el } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { RosterItem } from '../../storage/types.ts';

export const NS_ROSTER = 'jabber:iq:roster';
/** Stream feature announcing roster versioning (RFC 6121 section 2.6.1). */
export const NS_ROSTER_VERSIONING = 'urn:xmpp:features:rosterver';

/** Longest `name` or group a roster set may carry, in characters (RFC 6121 section 2.3.3 lets the server choose). */
export const MAX_ROSTER_TEXT = 1023;

/** One roster item as the client sees it (RFC 6121 section 2.1.2). */
export function itemElement(item: RosterItem): Element {
  const element = el('item', NS_ROSTER, {
    jid: item.jid,
    name: item.name,
    subscription: item.subscription,
    // RFC 6121 section 2.1.2.2: ask='subscribe' while an outbound request is pending.
    ask: item.askOut ? 'subscribe' : undefined,
    // RFC 6121 section 2.1.2.1: approved='true' marks a pre-approved subscription (section 3.4).
    approved: item.approved ? 'true' : undefined,
  });
  for (const group of item.groups) element.c('group').t(group);
  return element;
}

/** The item of a roster push announcing a removal (RFC 6121 section 2.5.2). */
export function removedItemElement(jid: string): Element {
  return el('item', NS_ROSTER, { jid, subscription: 'remove' });
}

export function queryElement(version: number, items: Element[]): Element {
  return el('query', NS_ROSTER, { ver: String(version) }, ...items);
}

/** What a client asked for in a roster set: an edit of an item, or its removal. */
export type RosterSetRequest =
  | { kind: 'update'; jid: Jid; name: string | undefined; groups: string[] }
  | { kind: 'remove'; jid: Jid };

/** Validates a roster set's <query/> from `user` (RFC 6121 sections 2.1.2, 2.3.3, 2.5). */
export function parseRosterSet(query: Element, user: Jid): RosterSetRequest {
  const items = query.getChildren('item', NS_ROSTER);
  // RFC 6121 section 2.3.3: exactly one <item/>.
  if (items.length !== 1 || query.elements().length !== 1) throw new StanzaError('bad-request', 'a roster set carries exactly one <item/>');
  const item = items[0]!;
  const rawJid = item.attrs.jid;
  if (rawJid === undefined) throw new StanzaError('bad-request', "the <item/> needs a 'jid'");
  let jid: Jid;
  try {
    jid = parseJid(rawJid);
  } catch (error) {
    if (error instanceof JidMalformedError) throw new StanzaError('jid-malformed', error.message);
    throw error;
  }
  // RFC 6121 section 2.1.2.2: a roster item is addressed by a bare JID.
  if (!jid.isBare()) throw new StanzaError('bad-request', `roster items are bare JIDs, not ${jid}`);
  // RFC 6121 section 2.1.2.5: 'remove' is the only subscription value a client may send; others are ignored.
  if (item.attrs.subscription === 'remove') return { kind: 'remove', jid };
  if (jid.equals(user.bare())) throw new StanzaError('not-allowed', 'your own address cannot be a contact in your roster');
  const name = item.attrs.name;
  // RFC 6121 section 2.3.3: an over-long name is not-acceptable.
  if (name !== undefined && name.length > MAX_ROSTER_TEXT) throw new StanzaError('not-acceptable', `a contact name is at most ${MAX_ROSTER_TEXT} characters`);
  const groups: string[] = [];
  for (const group of item.getChildren('group', NS_ROSTER)) {
    const text = group.text();
    // RFC 6121 section 2.3.3: an empty or over-long group is not-acceptable, a duplicate is bad-request.
    if (text === '') throw new StanzaError('not-acceptable', 'a <group/> needs a name');
    if (text.length > MAX_ROSTER_TEXT) throw new StanzaError('not-acceptable', `a group name is at most ${MAX_ROSTER_TEXT} characters`);
    if (groups.includes(text)) throw new StanzaError('bad-request', `group ${JSON.stringify(text)} is listed twice`);
    groups.push(text);
  }
  return { kind: 'update', jid, name: name === '' ? undefined : name, groups };
}
