/** Persistent group-chat rooms in SQLite (the MucRoomStore of src/storage/types.ts). */
import type { DatabaseSync } from 'node:sqlite';
import type { SqliteWrite } from './sqlite-write.ts';
import { groupRooms } from './codec.ts';
import type { MucRoomStore } from './types.ts';

export function sqliteMucRoomStore(db: DatabaseSync, write: SqliteWrite): MucRoomStore {
  const rooms = db.prepare('SELECT name, config FROM muc_rooms WHERE service = ? ORDER BY name');
  const affiliations = db.prepare('SELECT room, jid, affiliation, nick, reason FROM muc_affiliations WHERE service = ? ORDER BY room, jid');
  const oneRoom = db.prepare('SELECT name, config FROM muc_rooms WHERE service = ? AND name = ?');
  const oneRoomAffiliations = db.prepare('SELECT room, jid, affiliation, nick, reason FROM muc_affiliations WHERE service = ? AND room = ? ORDER BY jid');
  const upsert = db.prepare('INSERT INTO muc_rooms (service, name, config) VALUES (?, ?, ?) ON CONFLICT (service, name) DO UPDATE SET config = excluded.config');
  const clearAffiliations = db.prepare('DELETE FROM muc_affiliations WHERE service = ? AND room = ?');
  const insertAffiliation = db.prepare('INSERT INTO muc_affiliations (service, room, jid, affiliation, nick, reason) VALUES (?, ?, ?, ?, ?, ?)');
  const remove = db.prepare('DELETE FROM muc_rooms WHERE service = ? AND name = ?');
  return {
    async list(service) {
      return groupRooms(rooms.all(service) as { name: unknown; config: unknown }[], affiliations.all(service) as never[]);
    },
    async get(service, name) {
      return groupRooms(oneRoom.all(service, name) as { name: unknown; config: unknown }[], oneRoomAffiliations.all(service, name) as never[])[0];
    },
    async put(service, room) {
      write(() => {
        upsert.run(service, room.name, room.config);
        clearAffiliations.run(service, room.name);
        for (const item of room.affiliations) insertAffiliation.run(service, room.name, item.jid, item.affiliation, item.nick ?? null, item.reason ?? null);
      });
    },
    async delete(service, name) {
      return write(() => {
        clearAffiliations.run(service, name);
        return remove.run(service, name).changes > 0;
      });
    },
  };
}
