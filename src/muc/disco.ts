/** Service discovery (XEP-0030) of the group-chat service and its rooms (XEP-0045 sections 6.1 to 6.5). */
import { el, type Element } from '../xml/element.ts';
import { renderForm } from './data-form.ts';
import { configFeatures } from './room-config.ts';
import type { Room } from './room.ts';
import { NS_MUC, NS_MUC_ROOMINFO, NS_MUC_SELF_PING, NS_MUC_UNIQUE, NS_OCCUPANT_ID, NS_REGISTER } from './xmlns.ts';

export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

/** Rooms listed in the service's disco#items, at most (the rest are found by name). */
const MAX_LISTED_ROOMS = 1000;

function info(identity: { category: string; type: string; name: string }, features: readonly string[]): Element {
  const query = el('query', NS_DISCO_INFO);
  query.c('identity', identity);
  for (const feature of [...new Set([NS_DISCO_INFO, NS_DISCO_ITEMS, ...features])].sort()) query.c('feature', { var: feature });
  return query;
}

/**
 * Section 6.1: the service is a conference service that speaks MUC. Every room gives occupant
 * identifiers, which XEP-0421 section 3 says the service then advertises too.
 */
export function serviceInfo(name: string): Element {
  return info({ category: 'conference', type: 'text', name }, [NS_MUC, NS_MUC_UNIQUE, NS_OCCUPANT_ID]);
}

/** Section 6.3: the public rooms, by name. */
export function serviceItems(rooms: Iterable<Room>): Element {
  const query = el('query', NS_DISCO_ITEMS);
  let listed = 0;
  for (const room of rooms) {
    if (!room.config.public || room.locked || listed++ >= MAX_LISTED_ROOMS) continue;
    query.c('item', { jid: room.jid.toString(), name: room.config.title });
  }
  return query;
}

/** Section 6.4: the room's identity, its features, and the muc#roominfo form. */
export function roomInfo(room: Room, extraFeatures: readonly string[] = []): Element {
  const query = info({ category: 'conference', type: 'text', name: room.config.title }, [...configFeatures(room.config), NS_REGISTER, NS_MUC_SELF_PING, NS_OCCUPANT_ID, ...extraFeatures]);
  query.append(
    renderForm('result', NS_MUC_ROOMINFO, [
      { var: 'muc#roominfo_description', label: 'Description', values: [room.config.description] },
      { var: 'muc#roominfo_occupants', label: 'Number of occupants', values: [String(room.occupants.size)] },
      { var: 'muc#roominfo_subject', label: 'Subject', values: [room.subject?.text ?? ''] },
      { var: 'muc#roomconfig_roomname', label: 'Title', values: [room.config.title] },
    ]),
  );
  return query;
}

/** Section 6.5: the occupants of a public room by occupant JID; a hidden room lists none. */
export function roomItems(room: Room): Element {
  const query = el('query', NS_DISCO_ITEMS);
  if (room.config.public) for (const nick of room.occupants.keys()) query.c('item', { jid: room.occupantJid(nick) });
  return query;
}
