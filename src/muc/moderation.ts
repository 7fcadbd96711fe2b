/**
 * Message moderation (XEP-0425): a room's moderator retracts a group-chat message by the ID the
 * room gave it (its XEP-0359 `<stanza-id/>`). The room tells every occupant, keeps the message
 * from newcomers' history and leaves a tombstone in its archive in its place.
 *
 * Two versions are spoken, as Prosody's moderation module does: the current one
 * (`urn:xmpp:message-moderate:1`, section 3) and the one before it, wrapped in a Fastening
 * `<apply-to/>` (`urn:xmpp:message-moderate:0`), which clients such as slixmpp 1.8 still send.
 * The announcement carries both.
 */
import type { Jid } from '../jid/jid.ts';
import { NS_SID } from '../modules/mam/xmlns.ts';
import { el, NS_CLIENT, type Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { occupantIdElement } from './occupant-presence.ts';
import type { RoomArchives } from './room-archive.ts';
import type { Room } from './room.ts';
import { NS_OCCUPANT_ID } from './xmlns.ts';

export const NS_MODERATE = 'urn:xmpp:message-moderate:1';
export const NS_RETRACT = 'urn:xmpp:message-retract:1';
export const NS_MODERATE_0 = 'urn:xmpp:message-moderate:0';
export const NS_RETRACT_0 = 'urn:xmpp:message-retract:0';
export const NS_FASTEN = 'urn:xmpp:fasten:0';

/** characters of a moderator's reason kept */
const MAX_REASON = 1000;

/** What a moderation request asks: the message (the room's stanza ID) and why. */
export interface ModerationRequest {
  id: string;
  reason?: string;
}

/** Section 3 (`<moderate id/>`, version 1) or the earlier `<apply-to id><moderate/></apply-to>`; only retraction is defined. */
export function readModerationRequest(payload: Element): ModerationRequest {
  const moderate = payload.name === 'apply-to' ? payload.getChild('moderate', NS_MODERATE_0) : payload;
  const id = payload.attrs.id;
  if (!moderate || !id) throw new StanzaError('bad-request', 'name the message to moderate by the stanza ID the room gave it');
  if (!moderate.getChild('retract', moderate.xmlns === NS_MODERATE ? NS_RETRACT : NS_RETRACT_0)) throw new StanzaError('feature-not-implemented', 'retraction is the only moderation this room does');
  const reason = moderate.getChildText('reason')?.trim().slice(0, MAX_REASON);
  return { id, ...(reason ? { reason } : {}) };
}

/**
 * Section 3: only a moderator retracts, and only a message in the room's archive: the archive
 * gives messages the IDs a retraction names (XEP-0359), so a service without room archives
 * offers no moderation. Answers nothing; throws a StanzaError.
 */
export async function moderate(room: Room, from: Jid, request: ModerationRequest, archives: RoomArchives): Promise<void> {
  if (!archives.enabled) throw new StanzaError('service-unavailable', 'this service keeps no room archives, so its messages have no IDs to moderate by');
  const moderator = room.occupantBySession(from);
  if (!moderator || moderator.role !== 'moderator') throw new StanzaError('forbidden', "only moderators may retract others' messages");
  const by = room.occupantJid(moderator.nick);
  const now = room.context.now();
  const stamp = new Date(now).toISOString();
  if (!(await archives.replaceStanza(room, request.id, (stored) => tombstone(stored, by, moderator.occupantId, request.reason, stamp)))) {
    throw new StanzaError('item-not-found', 'this room has no message with that ID');
  }
  room.history.removeWhere((stanza) => roomStanzaId(stanza, room) === request.id);
  room.broadcast(announcement(room, request, by, moderator.occupantId, now));
}

/** The ID the room gave a message it broadcast (XEP-0359, `by` the room's JID). */
function roomStanzaId(stanza: Element, room: Room): string | undefined {
  const by = room.jid.toString();
  return stanza.getChildren('stanza-id', NS_SID).find((element) => element.attrs.by === by)?.attrs.id;
}

/** Section 3.1: the retraction every occupant gets, from the room, in both versions. */
function announcement(room: Room, request: ModerationRequest, by: string, occupantId: string, at: number): Element {
  const message = el('message', NS_CLIENT, { type: 'groupchat', from: room.jid.toString(), id: `moderation-${at}-${request.id}` });
  const retract = message.c('retract', { id: request.id }, NS_RETRACT);
  retract.append(el('moderated', NS_MODERATE, { by }, occupantIdElement(occupantId)));
  if (request.reason !== undefined) retract.append(el('reason', NS_RETRACT, {}, request.reason));
  const moderated = message.c('apply-to', { id: request.id }, NS_FASTEN).c('moderated', { by }, NS_MODERATE_0);
  moderated.append(el('retract', NS_RETRACT_0));
  if (request.reason !== undefined) moderated.append(el('reason', NS_MODERATE_0, {}, request.reason));
  return message;
}

/**
 * Section 4: the archived message keeps its addressing, ID and its author's occupant
 * identifier; everything it said gives way to `<retracted/>`, naming the moderator.
 */
function tombstone(stored: Element, by: string, moderatorId: string, reason: string | undefined, stamp: string): Element {
  const kept = el('message', stored.xmlns, { ...stored.attrs });
  for (const child of stored.elements()) if (child.xmlns === NS_OCCUPANT_ID || child.xmlns === NS_SID) kept.append(child);
  const retracted = kept.c('retracted', { stamp }, NS_RETRACT);
  retracted.append(el('moderated', NS_MODERATE, { by }, occupantIdElement(moderatorId)));
  if (reason !== undefined) retracted.append(el('reason', NS_RETRACT, {}, reason));
  return kept;
}
