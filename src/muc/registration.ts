/** Registering a nickname with a room (XEP-0045 section 7.10), which makes its owner a member. */
import { prepareResource, type Jid } from '../jid/jid.ts';
import { el, type Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { findForm, readForm, renderForm } from './data-form.ts';
import { grantAffiliation } from './room-admin.ts';
import type { Room } from './room.ts';
import { affiliationAtLeast } from './roles.ts';
import { NS_MUC_REGISTER, NS_REGISTER } from './xmlns.ts';

/** Section 7.10.1: the registration form, or the nickname already registered. */
export function registrationGet(room: Room, from: Jid): Element {
  const record = room.affiliations.get(from.bare().toString());
  if (record?.affiliation === 'outcast') throw new StanzaError('forbidden', 'you are banned from this room');
  const query = el('query', NS_REGISTER);
  if (record?.nick !== undefined) {
    query.c('registered');
    query.c('username').t(record.nick);
    return query;
  }
  query.c('instructions').t('Register a nickname with this room: nobody else may use it here.');
  query.append(renderForm('form', NS_MUC_REGISTER, [{ var: 'muc#register_roomnick', type: 'text-single', label: 'Nickname', values: [], required: true }], 'Nickname registration'));
  return query;
}

/** Section 7.10.2: registers (or with <remove/> gives up) a nickname. */
export function registrationSet(room: Room, from: Jid, query: Element): void {
  const bare = from.bare().toString();
  const record = room.affiliations.get(bare);
  if (record?.affiliation === 'outcast') throw new StanzaError('forbidden', 'you are banned from this room');
  if (query.getChild('remove')) {
    if (!record) throw new StanzaError('item-not-found', 'you have not registered with this room');
    if (record.affiliation === 'member') grantAffiliation(room, bare, 'none', undefined);
    else {
      delete record.nick;
      room.context.changed(room);
    }
    return;
  }
  const form = findForm(query);
  const nick = form ? validNick(readForm(form).get('muc#register_roomnick')?.[0]?.trim()) : undefined;
  if (!nick) throw new StanzaError('not-acceptable', 'give a nickname in muc#register_roomnick');
  // A members-only room takes its members from its admins, not from whoever asks.
  if (room.config.membersOnly && !affiliationAtLeast(room.affiliationOf(from), 'member')) throw new StanzaError('registration-required', 'an admin of this room makes you a member first');
  const owner = room.nickOwner(nick);
  const holder = room.occupants.get(nick);
  if ((owner !== undefined && owner !== bare) || (holder && holder.jid.toString() !== bare)) throw new StanzaError('conflict', 'that nickname is taken in this room');
  if (!record) grantAffiliation(room, bare, 'member', undefined);
  room.affiliations.get(bare)!.nick = nick;
  room.context.changed(room);
}

/** A nickname is the resourcepart of an occupant JID (RFC 7622 section 3.4). */
function validNick(nick: string | undefined): string | undefined {
  if (!nick) return undefined;
  try {
    return prepareResource(nick);
  } catch {
    return undefined;
  }
}
