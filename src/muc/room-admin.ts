/**
 * The moderator, admin and owner use cases of a room (XEP-0045 sections 8, 9 and 10): roles
 * and affiliations through muc#admin, configuration and destruction through muc#owner.
 */
import { tryParseJid, type Jid } from '../jid/jid.ts';
import { el, NS_CLIENT, type Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { findForm, readForm } from './data-form.ts';
import { mucUser, occupantPresence } from './occupant-presence.ts';
import { affiliationAtLeast, checkAffiliationChange, checkRoleChange, isAffiliation, isRole, type Affiliation, type Role } from './roles.ts';
import { applyConfigForm, configForm, type RoomConfig } from './room-config.ts';
import type { Room } from './room.ts';
import { NS_MUC_ADMIN, NS_MUC_OWNER, NS_MUC_USER, STATUS } from './xmlns.ts';

/** Items one muc#admin request may change. */
const MAX_ITEMS_PER_REQUEST = 100;

/** Sections 8.5, 9.5 and others: the list of one affiliation or role. */
export function adminGet(room: Room, from: Jid, query: Element): Element {
  const item = query.getChild('item');
  const result = el('query', NS_MUC_ADMIN);
  const affiliation = item?.attrs.affiliation;
  const role = item?.attrs.role;
  if (isAffiliation(affiliation) && affiliation !== 'none') {
    // Sections 9.5, 9.8, 10.5, 10.8: admins and owners read the affiliation lists. Section 9.5
    // lets members read them too: in a members-only room that shows real JIDs they may, as in
    // Prosody, since OMEMO clients (XEP-0384) encrypt for every member, present or not.
    const reader = room.affiliationOf(from);
    const membersSee = room.config.membersOnly && room.config.anonymity === 'non' && affiliationAtLeast(reader, 'member');
    if (!affiliationAtLeast(reader, 'admin') && !membersSee) throw new StanzaError('forbidden', 'only admins and owners read affiliation lists, and members in a members-only room that shows real JIDs');
    for (const [jid, record] of room.affiliations) {
      if (record.affiliation !== affiliation) continue;
      const entry = result.c('item', { affiliation, jid, ...(record.nick ? { nick: record.nick } : {}) });
      if (record.reason) entry.c('reason').t(record.reason);
    }
    return result;
  }
  if (isRole(role) && role !== 'none') {
    // Sections 8.5 and 9.10: moderators read the role lists.
    if (room.occupantBySession(from)?.role !== 'moderator') throw new StanzaError('forbidden', 'only moderators read role lists');
    for (const occupant of room.occupants.values()) {
      if (occupant.role === role) result.c('item', { nick: occupant.nick, role, affiliation: room.affiliationOf(occupant.jid), jid: occupant.current });
    }
    return result;
  }
  throw new StanzaError('bad-request', 'ask for one affiliation or role');
}

/** Sections 8 and 9: each item changes a role (by nick) or an affiliation (by jid or nick). */
export function adminSet(room: Room, from: Jid, query: Element): void {
  const items = query.getChildren('item');
  if (items.length === 0) throw new StanzaError('bad-request', 'no item to change');
  if (items.length > MAX_ITEMS_PER_REQUEST) throw new StanzaError('policy-violation', `at most ${MAX_ITEMS_PER_REQUEST} items per request`);
  for (const item of items) {
    const reason = item.getChildText('reason');
    const { affiliation, role, nick } = item.attrs;
    if (affiliation !== undefined) {
      if (!isAffiliation(affiliation)) throw new StanzaError('bad-request', `unknown affiliation ${affiliation}`);
      const target = item.attrs.jid !== undefined ? tryParseJid(item.attrs.jid) : nick !== undefined ? room.occupants.get(nick)?.jid : undefined;
      if (!target || target.resource !== undefined) throw new StanzaError(target ? 'jid-malformed' : 'item-not-found', 'name a bare JID, or the nickname of an occupant');
      changeAffiliation(room, from, target.toString(), affiliation, reason);
    } else if (role !== undefined && nick !== undefined) {
      if (!isRole(role)) throw new StanzaError('bad-request', `unknown role ${role}`);
      setRole(room, from, nick, role, reason);
    } else {
      throw new StanzaError('bad-request', 'an item changes a role (nick and role) or an affiliation (jid and affiliation)');
    }
  }
}

/** Sections 8.2 to 8.6, 9.6, 9.7: kick (role none), voice, and moderator status. */
export function setRole(room: Room, from: Jid, nick: string, role: Role, reason: string | undefined): void {
  const target = room.occupants.get(nick);
  if (!target) throw new StanzaError('item-not-found', `nobody is called ${nick} in this room`);
  const actor = room.occupantBySession(from);
  checkRoleChange({ affiliation: room.affiliationOf(from), role: actor?.role ?? 'none' }, { affiliation: room.affiliationOf(target.jid), role: target.role }, role);
  const item = { actor: actor?.nick, ...(reason !== undefined ? { reason } : {}) };
  if (role === 'none') {
    room.removeOccupant(target, { statuses: [STATUS.kicked], item: { ...item, role: 'none' } });
    return;
  }
  if (target.role === role) return;
  target.role = role;
  room.broadcastPresence(target, { item: reason !== undefined ? { reason } : {} });
}

/** Sections 9.1 to 9.4 and 10.3 to 10.8: an affiliation changes, with what it means for the occupant. */
function changeAffiliation(room: Room, from: Jid, jid: string, affiliation: Affiliation, reason: string | undefined): void {
  const current = room.affiliations.get(jid)?.affiliation ?? 'none';
  checkAffiliationChange(room.affiliationOf(from), current, affiliation);
  if (current === affiliation) return;
  // Section 10.9: a room always keeps an owner.
  if (current === 'owner' && [...room.affiliations.values()].filter((record) => record.affiliation === 'owner').length === 1) {
    throw new StanzaError('conflict', 'the room needs at least one owner');
  }
  grantAffiliation(room, jid, affiliation, room.occupantBySession(from)?.nick, reason);
}

/** Records an affiliation and applies it to the occupants it covers (a bare JID, or a whole domain). */
export function grantAffiliation(room: Room, jid: string, affiliation: Affiliation, actor: string | undefined, reason?: string): void {
  const previous = room.affiliations.get(jid);
  if (affiliation === 'none') {
    room.affiliations.delete(jid);
  } else {
    if (!previous && room.affiliations.size >= room.context.limits.maxAffiliations) throw new StanzaError('resource-constraint', 'this room keeps no more affiliations');
    room.affiliations.set(jid, { affiliation, ...(previous?.nick ? { nick: previous.nick } : {}), ...(reason !== undefined ? { reason } : {}) });
  }
  room.context.changed(room);
  const covered = [...room.occupants.values()].filter((occupant) => occupant.jid.toString() === jid || (!jid.includes('@') && occupant.jid.domain === jid));
  for (const occupant of covered) {
    const item = { actor, role: 'none' as const, ...(reason !== undefined ? { reason } : {}) };
    // Section 9.1: a ban removes the occupant with 301; section 9.4: so does losing membership of a members-only room, with 321.
    if (affiliation === 'outcast') room.removeOccupant(occupant, { statuses: [STATUS.banned], item });
    else if (room.config.membersOnly && affiliation === 'none') room.removeOccupant(occupant, { statuses: [STATUS.affiliationRemoved], item });
    else {
      const before = occupant.role;
      room.refreshRole(occupant);
      if (occupant.role === before) room.broadcastPresence(occupant);
    }
  }
}

/** Section 10.2: the configuration form, for owners. */
export function ownerGet(room: Room, from: Jid): Element {
  if (room.affiliationOf(from) !== 'owner') throw new StanzaError('forbidden', 'only owners configure the room');
  return el('query', NS_MUC_OWNER, {}, configForm(room.config, room.context.limits));
}

/** Sections 10.1.2 to 10.2 and 10.9: an instant room, a submitted configuration, a cancelled one, or destruction. */
export function ownerSet(room: Room, from: Jid, query: Element): void {
  if (room.affiliationOf(from) !== 'owner') throw new StanzaError('forbidden', 'only owners configure or destroy the room');
  const destroy = query.getChild('destroy');
  if (destroy) return destroyRoom(room, destroy.attrs.jid, destroy.getChildText('reason'), destroy.getChildText('password'));
  const form = findForm(query);
  if (!form) throw new StanzaError('bad-request', 'send a data form or <destroy/>');
  // Section 10.1.3: cancelling the first configuration of a new room destroys it.
  if (form.attrs.type === 'cancel') return room.locked ? destroyRoom(room, undefined, undefined, undefined) : undefined;
  if (form.attrs.type !== 'submit') throw new StanzaError('bad-request', 'submit the form');
  const before = room.config;
  const next = applyConfigForm(before, readForm(form), room.context.limits);
  room.config = next;
  room.locked = false;
  room.history.setLimit(next.historyLength);
  if (next.moderated !== before.moderated) for (const occupant of room.occupants.values()) room.refreshRole(occupant);
  // Section 9.4: a room that becomes members-only loses its occupants who are not members (322).
  if (next.membersOnly && !before.membersOnly) {
    for (const occupant of [...room.occupants.values()]) {
      if (!affiliationAtLeast(room.affiliationOf(occupant.jid), 'member')) room.removeOccupant(occupant, { statuses: [STATUS.membersOnlyRemoved], item: { role: 'none' } });
    }
  }
  room.context.changed(room);
  // Section 10.2.1: occupants learn that the configuration changed, and how the room's anonymity
  // did; the owner of a new room too, whose client learned the room's features when it entered
  // (Profanity allows OMEMO in a room once it is non-anonymous and members-only), as Prosody does.
  const changed = (Object.keys(next) as (keyof RoomConfig)[]).some((key) => next[key] !== before[key]);
  if (changed) notifyConfigChange(room, before.anonymity === next.anonymity ? [] : [next.anonymity === 'non' ? STATUS.nowNonAnonymous : STATUS.nowSemiAnonymous]);
  if (room.occupants.size === 0 && !next.persistent) room.context.ended(room);
}

function notifyConfigChange(room: Room, privacy: string[]): void {
  const message = el('message', NS_CLIENT, { type: 'groupchat', from: room.jid.toString(), id: `config-${room.context.now()}` });
  const x = message.c('x', {}, NS_MUC_USER);
  for (const code of [STATUS.configChanged, ...privacy]) x.c('status', { code });
  room.broadcast(message);
}

/** Section 10.9: every occupant leaves with <destroy/>, naming an alternate venue if given; then the room is gone. */
export function destroyRoom(room: Room, alternate: string | undefined, reason: string | undefined, password: string | undefined): void {
  if (alternate !== undefined && !tryParseJid(alternate)) throw new StanzaError('jid-malformed', 'the alternate venue is not a valid JID');
  const destroy = el('destroy', NS_MUC_USER, { jid: alternate });
  if (reason !== undefined) destroy.c('reason').t(reason);
  if (password !== undefined) destroy.c('password').t(password);
  for (const occupant of room.occupants.values()) {
    const x = mucUser({ affiliation: 'none', role: 'none' }, [], [destroy]);
    room.sendToOccupant(occupant, occupantPresence(room.occupantJid(occupant.nick), undefined, 'unavailable', x, occupant.occupantId));
  }
  room.occupants.clear();
  room.destroyed = true;
  room.context.ended(room);
}
