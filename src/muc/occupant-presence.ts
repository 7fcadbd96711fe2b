/**
 * The presence a room sends about an occupant (XEP-0045 sections 7.2.3 to 7.2.5, 7.6, 7.14):
 * the occupant's own presence from its occupant JID, with <x xmlns='…muc#user'> carrying its
 * affiliation and role, its real JID where the recipient may see it, and status codes.
 */
import type { Jid } from '../jid/jid.ts';
import { NS_CLIENT, el, Element } from '../xml/element.ts';
import type { Affiliation, Role } from './roles.ts';
import { NS_MUC, NS_MUC_USER, NS_OCCUPANT_ID } from './xmlns.ts';

/** One person in the room under one nickname, with one or more of their resources. */
export interface Occupant {
  nick: string;
  /** the real bare JID */
  jid: Jid;
  /** XEP-0421: what the room calls this person in everything it sends about them (Room.occupantIdOf) */
  occupantId: string;
  /** real full JIDs of the resources in the room */
  sessions: Set<string>;
  /** the real full JID of the resource whose presence is shown */
  current: string;
  /** the presence that resource last sent to the room */
  presence: Element;
  role: Role;
}

export interface ItemDetails {
  affiliation: Affiliation;
  role: Role;
  /** the real full JID, when the recipient may see it */
  jid?: string;
  /** the new nickname (status 303) */
  nick?: string;
  /** who kicked or banned (section 8.2: the actor's nickname) */
  actor?: string;
  reason?: string;
}

/** A copy of `stanza` to one recipient; the children are shared, never modified later. */
export function addressed(stanza: Element, to: string): Element {
  return new Element(stanza.name, stanza.xmlns, { ...stanza.attrs, to }, [...stanza.children]);
}

/** The muc#user extension with one item and status codes. */
export function mucUser(item: ItemDetails, statuses: readonly string[] = [], extra: readonly Element[] = []): Element {
  const x = el('x', NS_MUC_USER);
  const itemElement = x.c('item', { affiliation: item.affiliation, role: item.role, ...(item.jid ? { jid: item.jid } : {}), ...(item.nick ? { nick: item.nick } : {}) });
  if (item.actor !== undefined) itemElement.c('actor', { nick: item.actor });
  if (item.reason !== undefined) itemElement.c('reason').t(item.reason);
  for (const code of statuses) x.c('status', { code });
  x.append(...extra);
  return x;
}

/**
 * Presence from `from` (the occupant JID) built on what the occupant sent: its show, status,
 * priority and other extensions, without its MUC elements or an occupant identifier of its own
 * making, plus `x` and the room's identifier of the occupant (XEP-0421 section 4.1).
 */
export function occupantPresence(from: string, source: Element | undefined, type: 'unavailable' | undefined, x: Element, occupantId?: string): Element {
  const presence = el('presence', NS_CLIENT, { from, type });
  for (const child of source?.elements() ?? []) {
    if (child.xmlns === NS_MUC || child.xmlns === NS_MUC_USER || child.xmlns === NS_OCCUPANT_ID) continue;
    // An unavailable presence keeps only its status text (RFC 6121 section 4.5.1).
    if (type === 'unavailable' && child.name !== 'status') continue;
    presence.append(child);
  }
  presence.append(x);
  if (occupantId !== undefined) presence.append(occupantIdElement(occupantId));
  return presence;
}

export function occupantIdElement(id: string): Element {
  return el('occupant-id', NS_OCCUPANT_ID, { id });
}

/**
 * XEP-0421 section 4.2: a message the room sends on from an occupant carries the room's
 * identifier of the sender, and no other (a client's own would impersonate someone).
 */
export function withOccupantId(message: Element, occupantId: string): Element {
  message.children = message.children.filter((child) => !(child instanceof Element && child.xmlns === NS_OCCUPANT_ID));
  message.append(occupantIdElement(occupantId));
  return message;
}
