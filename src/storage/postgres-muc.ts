/** Persistent group-chat rooms in PostgreSQL (the MucRoomStore of src/storage/types.ts). */
import type { Pool } from 'pg';
import { groupRooms } from './codec.ts';
import { inTransaction } from './postgres-transaction.ts';
import type { MucRoomStore } from './types.ts';

export function postgresMucRoomStore(pool: Pool): MucRoomStore {
  return {
    async list(service) {
      // Both reads in one snapshot, so no room is seen without its affiliations.
      return inTransaction(
        pool,
        async (client) => {
          const rooms = await client.query('SELECT name, config FROM muc_rooms WHERE service = $1 ORDER BY name', [service]);
          const affiliations = await client.query('SELECT room, jid, affiliation, nick, reason FROM muc_affiliations WHERE service = $1 ORDER BY room, jid', [service]);
          return groupRooms(rooms.rows, affiliations.rows);
        },
        'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
      );
    },
    async get(service, name) {
      return inTransaction(
        pool,
        async (client) => {
          const rooms = await client.query('SELECT name, config FROM muc_rooms WHERE service = $1 AND name = $2', [service, name]);
          const affiliations = await client.query('SELECT room, jid, affiliation, nick, reason FROM muc_affiliations WHERE service = $1 AND room = $2 ORDER BY jid', [service, name]);
          return groupRooms(rooms.rows, affiliations.rows)[0];
        },
        'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
      );
    },
    async put(service, room) {
      await inTransaction(pool, async (client) => {
        await client.query(
          'INSERT INTO muc_rooms (service, name, config) VALUES ($1, $2, $3) ON CONFLICT (service, name) DO UPDATE SET config = excluded.config',
          [service, room.name, room.config],
        );
        await client.query('DELETE FROM muc_affiliations WHERE service = $1 AND room = $2', [service, room.name]);
        for (const item of room.affiliations) {
          await client.query('INSERT INTO muc_affiliations (service, room, jid, affiliation, nick, reason) VALUES ($1, $2, $3, $4, $5, $6)', [
            service,
            room.name,
            item.jid,
            item.affiliation,
            item.nick ?? null,
            item.reason ?? null,
          ]);
        }
      });
    },
    async delete(service, name) {
      return inTransaction(pool, async (client) => {
        await client.query('DELETE FROM muc_affiliations WHERE service = $1 AND room = $2', [service, name]);
        const { rowCount } = await client.query('DELETE FROM muc_rooms WHERE service = $1 AND name = $2', [service, name]);
        return (rowCount ?? 0) > 0;
      });
    },
  };
}
