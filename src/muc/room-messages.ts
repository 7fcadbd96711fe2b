/**
 * Messages in a room (XEP-0045): groupchat messages (section 7.4), the subject (8.1), private
 * messages (7.5), mediated invitations and declines (7.8.2, 7.8.3), voice requests (7.13).
 */
import { parseJid, tryParseJid, type Jid } from '../jid/jid.ts';
import { el, Element, NS_CLIENT } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { findForm, formBoolean, readForm, renderForm } from './data-form.ts';
import { grantAffiliation, setRole } from './room-admin.ts';
import { withOccupantId, type Occupant } from './occupant-presence.ts';
import type { Room } from './room.ts';
import { roleAtLeast } from './roles.ts';
import { NS_CONFERENCE, NS_MUC_REQUEST, NS_MUC_USER } from './xmlns.ts';

/** Invitations one message may carry (each becomes a message of its own). */
const MAX_INVITES_PER_MESSAGE = 20;

/** A message addressed to the room (`nick` undefined) or to an occupant JID. */
export function handleRoomMessage(room: Room, stanza: Element, from: Jid, nick: string | undefined): void {
  if (stanza.attrs.type === 'error') {
    room.dropOnError(stanza, from);
    return;
  }
  if (nick !== undefined) return privateMessage(room, stanza, from, nick);
  const user = stanza.getChild('x', NS_MUC_USER);
  if (user?.getChild('decline')) return decline(room, from, user.getChild('decline')!);
  if (user?.getChild('invite')) return invite(room, from, user.getChildren('invite'));
  const form = findForm(stanza);
  if (form && readForm(form).get('FORM_TYPE')?.[0] === NS_MUC_REQUEST) return voiceRequest(room, from, form);
  if (stanza.attrs.type === 'groupchat') return groupchat(room, stanza, from);
  throw new StanzaError('bad-request', 'send groupchat messages to the room, or private messages to an occupant');
}

/** Section 7.4: to every occupant from the sender's occupant JID, and kept for newcomers. */
function groupchat(room: Room, stanza: Element, from: Jid): void {
  const occupant = room.occupantBySession(from);
  // Section 7.4: only occupants speak in the room.
  if (!occupant) throw new StanzaError('not-acceptable', 'you are not in this room');
  const subject = stanza.getChild('subject');
  const hasBody = stanza.getChild('body') !== undefined;
  if (subject && !hasBody) return changeSubject(room, stanza, occupant, subject.text());
  // Section 7.4 (and 8.3): a visitor in a moderated room has no voice.
  if (!roleAtLeast(occupant.role, 'participant')) throw new StanzaError('forbidden', 'you have no voice in this room');
  // XEP-0258 section 5.2.2: within the room's clearance and the sender's, or refused.
  const judged = room.context.labels?.groupchat(room.jid, from, stanza) ?? stanza;
  const out = withOccupantId(reflected(judged, room.occupantJid(occupant.nick)), occupant.occupantId);
  room.context.archive?.(room, out);
  room.broadcast(out);
  if (hasBody) room.history.push(out, room.jid.toString(), room.context.now());
}

/** Section 8.1: moderators change the subject, participants too where the room allows it. */
function changeSubject(room: Room, stanza: Element, occupant: Occupant, text: string): void {
  const allowed = occupant.role === 'moderator' || (room.config.changeSubject && occupant.role === 'participant');
  if (!allowed) throw new StanzaError('forbidden', 'you may not change the subject of this room');
  const from = room.occupantJid(occupant.nick);
  room.subject = text === '' ? undefined : { text, from, occupantId: occupant.occupantId };
  const out = withOccupantId(reflected(stanza, from), occupant.occupantId);
  room.context.archive?.(room, out);
  room.broadcast(out);
  room.context.changed(room);
}

/** The sender's stanza as the room sends it on: from the occupant JID, addressed later. */
function reflected(stanza: Element, from: string): Element {
  const out = new Element('message', NS_CLIENT, { ...stanza.attrs, from }, [...stanza.children]);
  delete out.attrs.to;
  return out;
}

/** Section 7.5: from one occupant to another, through the room, as the room's config allows. */
function privateMessage(room: Room, stanza: Element, from: Jid, nick: string): void {
  const sender = room.occupantBySession(from);
  if (!sender) throw new StanzaError('not-acceptable', 'only occupants send private messages in this room');
  if (stanza.attrs.type === 'groupchat') throw new StanzaError('bad-request', 'a private message is not of type groupchat');
  const target = room.occupants.get(nick);
  if (!target) throw new StanzaError('item-not-found', `nobody is called ${nick} in this room`);
  const policy = room.config.allowPm;
  const allowed = policy === 'anyone' || (policy === 'participants' && roleAtLeast(sender.role, 'participant')) || (policy === 'moderators' && sender.role === 'moderator');
  if (!allowed) throw new StanzaError('forbidden', 'private messages are not allowed for you in this room');
  // XEP-0258 section 5.2.3: judged as a message between the two users.
  const labelled = room.context.labels?.privateMessage(from, parseJid(target.current), stanza) ?? stanza;
  const out = withOccupantId(reflected(labelled, room.occupantJid(sender.nick)), sender.occupantId);
  // Section 7.5: the room marks the message as coming through it.
  if (!out.getChild('x', NS_MUC_USER)) out.append(el('x', NS_MUC_USER));
  room.sendToOccupant(target, out);
}

/** Section 7.8.2: the room sends the invitation on, from itself, naming the inviter. */
function invite(room: Room, from: Jid, invites: Element[]): void {
  const inviter = room.occupantBySession(from);
  if (!inviter) throw new StanzaError('not-acceptable', 'only occupants invite others to this room');
  if (!room.config.allowInvites && inviter.role !== 'moderator') throw new StanzaError('forbidden', 'only moderators invite others to this room');
  if (invites.length > MAX_INVITES_PER_MESSAGE) throw new StanzaError('policy-violation', `at most ${MAX_INVITES_PER_MESSAGE} invitations per message`);
  const invitees = invites.map((element) => {
    const to = tryParseJid(element.attrs.to ?? '');
    if (!to) throw new StanzaError('jid-malformed', 'each invitation needs a valid "to"');
    return { to, reason: element.getChildText('reason') };
  });
  for (const { to, reason } of invitees) {
    // Section 9.3: in a members-only room, an invitation from someone allowed to invite makes a member.
    if (room.config.membersOnly && room.affiliationOf(to) === 'none') grantAffiliation(room, to.bare().toString(), 'member', inviter.nick);
    const message = el('message', NS_CLIENT, { from: room.jid.toString(), to: to.toString(), id: `invite-${room.context.now()}` });
    const x = message.c('x', {}, NS_MUC_USER);
    const inviteElement = x.c('invite', { from: from.toString() });
    if (reason !== undefined) inviteElement.c('reason').t(reason);
    if (room.config.password !== '') x.c('password').t(room.config.password);
    // COMPAT(clients): older clients only understand the XEP-0249 form; Prosody adds it too.
    message.append(el('x', NS_CONFERENCE, { jid: room.jid.toString(), reason }));
    message.append(el('body', NS_CLIENT, {}, `${from.bare()} invites you to the room ${room.jid}${reason ? `: ${reason}` : ''}`));
    room.context.send(message);
  }
}

/** Section 7.8.3: the invitee declines; the room tells the inviter. */
function decline(room: Room, from: Jid, element: Element): void {
  const to = tryParseJid(element.attrs.to ?? '');
  if (!to) throw new StanzaError('jid-malformed', 'a decline needs a valid "to"');
  const message = el('message', NS_CLIENT, { from: room.jid.toString(), to: to.toString() });
  const declined = message.c('x', {}, NS_MUC_USER).c('decline', { from: from.bare().toString() });
  const reason = element.getChildText('reason');
  if (reason !== undefined) declined.c('reason').t(reason);
  room.context.send(message);
}

/** Section 7.13: a visitor asks for voice; moderators get the form; one who approves grants it (section 8.6). */
function voiceRequest(room: Room, from: Jid, form: Element): void {
  const sender = room.occupantBySession(from);
  if (!sender) throw new StanzaError('not-acceptable', 'you are not in this room');
  const values = readForm(form);
  if (form.attrs.type === 'submit' && values.has('muc#request_allow')) {
    if (formBoolean(values.get('muc#request_allow')) !== true) return;
    const nick = values.get('muc#roomnick')?.[0];
    if (nick === undefined) throw new StanzaError('bad-request', 'the approval names no muc#roomnick');
    return setRole(room, from, nick, 'participant', undefined);
  }
  if (sender.role !== 'visitor') return;
  const request = renderForm('form', NS_MUC_REQUEST, [
    { var: 'muc#role', type: 'list-single', label: 'Requested role', values: ['participant'], options: [{ value: 'participant', label: 'Participant' }] },
    { var: 'muc#jid', type: 'jid-single', label: 'User ID', values: [from.toString()] },
    { var: 'muc#roomnick', type: 'text-single', label: 'Room Nickname', values: [sender.nick] },
    { var: 'muc#request_allow', type: 'boolean', label: 'Grant voice to this person?', values: ['0'] },
  ], 'Voice request');
  const message = el('message', NS_CLIENT, { from: room.jid.toString(), id: `voice-${room.context.now()}` }, request);
  for (const occupant of room.occupants.values()) if (occupant.role === 'moderator') room.sendToOccupant(occupant, message);
}
