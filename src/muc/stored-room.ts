/** A room to and from storage (the MucRoomStore of src/storage): configuration, subject and affiliations. */
import type { StoredRoom } from '../storage/types.ts';
import { parseStoredConfig, type RoomConfig } from './room-config.ts';
import type { Room } from './room.ts';

interface StoredState extends RoomConfig {
  subject?: { text: string; from: string; occupantId?: string };
  /** the secret of the room's occupant identifiers (XEP-0421 section 5), kept across restarts */
  occupantIdSalt?: string;
}

export function toStored(room: Room): StoredRoom {
  const state: StoredState = { ...room.config, ...(room.subject ? { subject: room.subject } : {}), occupantIdSalt: room.occupantIdSalt };
  const affiliations = [...room.affiliations].map(([jid, record]) => ({ jid, ...record }));
  return { name: room.name, config: JSON.stringify(state), affiliations: affiliations.sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0)) };
}

/**
 * Fills a new room from storage; fields the stored JSON lacks keep the defaults. Returns false
 * when the record predates occupant identifiers: the room's new secret is to be saved.
 */
export function restore(room: Room, stored: StoredRoom): boolean {
  room.config = parseStoredConfig(stored.config, room.config);
  room.history.setLimit(room.config.historyLength);
  const state = JSON.parse(stored.config) as StoredState;
  const subject = state.subject;
  if (subject && typeof subject.text === 'string' && typeof subject.from === 'string') {
    room.subject = { text: subject.text, from: subject.from, ...(typeof subject.occupantId === 'string' ? { occupantId: subject.occupantId } : {}) };
  }
  const hasSalt = typeof state.occupantIdSalt === 'string' && state.occupantIdSalt !== '';
  if (hasSalt) room.occupantIdSalt = state.occupantIdSalt!;
  for (const { jid, affiliation, nick, reason } of stored.affiliations) {
    room.affiliations.set(jid, { affiliation, ...(nick !== undefined ? { nick } : {}), ...(reason !== undefined ? { reason } : {}) });
  }
  return hasSalt;
}
